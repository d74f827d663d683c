package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Every setting of a VM, declared once: the sections of Cloud Hypervisor's command line and VmConfig JSON,
 * each field with its names on both front ends, type, default, checks, and the settings Nimbus refuses
 * because it does not build them yet. The command line ({@code Main}, {@link CommandLineConfig}) and the
 * REST API ({@link VmConfigJson}) both read through these declarations, and every check on a single value,
 * "not supported yet" included, happens here before anything is built. No key is declared anywhere else
 * (an ArchUnit rule holds this).
 */
public final class Schema {
    private Schema() {}

    // --cpus / cpus
    public static final Field<Long> CPUS_BOOT = Field.of("boot", "boot_vcpus", Type.INTEGER).byDefault(1L).check(Field.range(1, 255));
    public static final Field<Long> CPUS_MAX = Field.of("max", "max_vcpus", Type.INTEGER).check(Field.range(1, 255));
    public static final Section CPUS = Section.of("--cpus", "cpus", "vCPUs (max equal to boot: no hot-plug yet).",
            CPUS_BOOT, CPUS_MAX,
            Field.notYet("topology", "topology", null), Field.notYet("kvm_hyperv", "kvm_hyperv", null),
            Field.notYet("max_phys_bits", "max_phys_bits", null), Field.notYet("affinity", "affinity", null),
            Field.notYet("features", "features", null), Field.notYet("nested", "nested", null));

    // --memory / memory
    public static final Field<Long> MEMORY_SIZE = Field.of("size", Type.SIZE).byDefault(512L << 20)
            .check(size -> size < MemoryConfig.MIN_SIZE ? size + " bytes is too small (at least 32M)" : null)
            .check(size -> size % 4096 != 0 ? size + " bytes is not a multiple of 4K" : null)
            .check(MemoryConfig::hostProblem);
    public static final Section MEMORY = Section.of("--memory", "memory", "Guest RAM, such as size=512M or size=2G.",
            MEMORY_SIZE,
            Field.notYet("mergeable", "mergeable", null), Field.notYet("shared", "shared", null),
            Field.notYet("hugepages", "hugepages", null), Field.notYet("hugepage_size", "hugepage_size", null),
            Field.notYet("hotplug_method", "hotplug_method", null), Field.notYet("hotplug_size", "hotplug_size", null),
            Field.notYet("hotplugged_size", "hotplugged_size", null), Field.notYet("prefault", "prefault", null),
            Field.notYet("thp", "thp", null), Field.notYet(null, "zones", null));

    // --kernel, --initramfs, --cmdline / payload
    public static final Field<Path> KERNEL = Field.of("--kernel", "kernel", Type.PATH).required().check(Schema::imageProblem)
            .help("Kernel image to boot.");
    public static final Field<Path> INITRAMFS = Field.of("--initramfs", "initramfs", Type.PATH).check(Schema::imageProblem)
            .help("Initramfs image.");
    public static final Field<String> CMDLINE = Field.of("--cmdline", "cmdline", Type.TEXT).byDefault("").mayBeEmpty()
            .help("Kernel command line.");
    public static final Section PAYLOAD = Section.options("payload", KERNEL, INITRAMFS, CMDLINE,
            Field.notYet("--firmware", "firmware", "Nimbus boots a kernel directly"), Field.notYet("--igvm", "igvm", null),
            Field.notYet(null, "host_data", null));

    // --serial, --console / serial, console
    public static final Field<ConsoleConfig.Mode> SERIAL_MODE = Field.of(null, "mode", modes());
    public static final Field<Path> SERIAL_FILE = Field.of("file", Type.PATH);
    public static final Section SERIAL = console("--serial", "serial", "Serial port (default: null).", SERIAL_MODE, SERIAL_FILE);
    public static final Field<ConsoleConfig.Mode> CONSOLE_MODE = Field.of(null, "mode", modes());
    public static final Field<Path> CONSOLE_FILE = Field.of("file", Type.PATH);
    public static final Section CONSOLE = console("--console", "console", "virtio console (default: tty).", CONSOLE_MODE,
            CONSOLE_FILE);

    // --disk / disks
    public static final Field<Path> DISK_PATH = Field.of("path", Type.PATH).required();
    public static final Field<Boolean> DISK_READONLY = Field.of("readonly", Type.TOGGLE).byDefault(false);
    public static final Field<Boolean> DISK_DIRECT = Field.of("direct", Type.TOGGLE).byDefault(false)
            .notYetWhen(direct -> direct,
                    direct -> "on is not supported yet (Nimbus uses the host page cache; flush still reaches the disk)");
    public static final Field<Long> DISK_NUM_QUEUES = Field.of("num_queues", Type.INTEGER).byDefault(1L)
            .check(Field.range(1, 64)).notYetWhen(n -> n > 1, n -> n + " queues are not supported yet (one request queue per disk)");
    public static final Field<Long> DISK_QUEUE_SIZE = queueSize();
    public static final Field<String> DISK_ID = Field.of("id", Type.text("ID"));
    public static final Field<String> DISK_SERIAL = Field.of("serial", Type.text("SERIAL"));
    public static final Section DISK = Section.listOf("--disk", "disks",
            "virtio-blk disks on raw images, one value each.",
            DISK_PATH, DISK_READONLY, DISK_DIRECT, DISK_NUM_QUEUES, DISK_QUEUE_SIZE, DISK_ID, DISK_SERIAL,
            Field.notYet("iommu", "iommu", null), Field.notYet("vhost_user", "vhost_user", null),
            Field.notYet("socket", "vhost_socket", null), Field.notYet("rate_limit_group", "rate_limit_group", null),
            Field.notYet("bw_size", null, null), Field.notYet("bw_one_time_burst", null, null),
            Field.notYet("bw_refill_time", null, null), Field.notYet("ops_size", null, null),
            Field.notYet("ops_one_time_burst", null, null), Field.notYet("ops_refill_time", null, null),
            Field.notYet(null, "rate_limiter_config", null), Field.notYet("pci_segment", "pci_segment", null),
            Field.notYet("image_type", "image_type", null), Field.notYet("backing_files", "backing_files", null),
            Field.notYet("sparse", "sparse", null), Field.notYet("queue_affinity", "queue_affinity", null),
            Field.notYet(null, "disable_io_uring", null), Field.notYet(null, "disable_aio", null));

    // --net / net
    /** The longest Linux interface name (IFNAMSIZ less the NUL). */
    static final int MAX_TAP_NAME = 15;
    public static final Field<String> NET_TAP = Field.of("tap", Type.text("NAME")).mayBeEmpty()
            .check(t -> t.length() > MAX_TAP_NAME ? "'" + t + "' is longer than " + MAX_TAP_NAME + " characters" : null);
    public static final Field<String> NET_IP = Field.of("ip", Type.text("IP")).check(Schema::ipv4Problem);
    public static final Field<String> NET_MASK = Field.of("mask", Type.text("MASK")).check(Schema::ipv4Problem);
    public static final Field<String> NET_MAC = Field.of("mac", Type.text("MAC")).check(Schema::macProblem);
    public static final Field<Long> NET_NUM_QUEUES = Field.of("num_queues", Type.INTEGER).byDefault(2L)
            .check(Field.range(2, 64)).check(n -> n % 2 != 0 ? n + " is odd (queues come in receive/transmit pairs)" : null)
            .notYetWhen(n -> n != 2, n -> n + " needs multiqueue, which is not supported yet (one receive/transmit pair: 2)");
    public static final Field<Long> NET_QUEUE_SIZE = queueSize();
    public static final Field<String> NET_ID = Field.of("id", Type.text("ID"));
    public static final Section NET = Section.listOf("--net", "net",
            "virtio-net interfaces on taps, one value each (a tap Nimbus creates, or tap%%d).",
            NET_TAP, NET_IP, NET_MASK, NET_MAC, NET_NUM_QUEUES, NET_QUEUE_SIZE, NET_ID,
            Field.notYet("host_mac", "host_mac", "the tap keeps the MAC address the kernel gave it"),
            Field.notYet("mtu", "mtu", "the tap keeps its MTU"), Field.notYet("fd", "fd", null),
            Field.notYet("iommu", "iommu", null), Field.notYet("vhost_user", "vhost_user", null),
            Field.notYet("socket", "vhost_socket", null), Field.notYet("vhost_mode", "vhost_mode", null),
            Field.notYet("pci_segment", "pci_segment", null), Field.notYet("offload_tso", "offload_tso", null),
            Field.notYet("offload_ufo", "offload_ufo", null), Field.notYet("offload_csum", "offload_csum", null),
            Field.notYet("rate_limit_group", null, null), Field.notYet("bw_size", null, null),
            Field.notYet("bw_one_time_burst", null, null), Field.notYet("bw_refill_time", null, null),
            Field.notYet("ops_size", null, null), Field.notYet("ops_one_time_burst", null, null),
            Field.notYet("ops_refill_time", null, null), Field.notYet(null, "rate_limiter_config", null));

    // --rng / rng
    public static final Field<Path> RNG_SRC = Field.of("src", Type.PATH).byDefault(Path.of("/dev/urandom"));
    public static final Section RNG = Section.of("--rng", "rng",
            "virtio-rng with this entropy source (default /dev/urandom).", RNG_SRC, Field.notYet("iommu", "iommu", null));

    // --api-socket (the command line only)
    /** The kernel's limit for a socket path (sun_path), less the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;
    public static final Field<Path> API_SOCKET_PATH = Field.of("path", Type.PATH).required()
            .check(p -> p.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES
                    ? "longer than " + MAX_SOCKET_PATH_BYTES + " bytes, the limit of a Unix socket path" : null);
    public static final Section API_SOCKET = Section.of("--api-socket", null,
            "Serve the REST API (Cloud Hypervisor's /api/v1) on a Unix socket, mode 0600. Without --kernel the VMM "
                    + "waits for vm.create and vm.boot; it runs until vmm.shutdown.",
            API_SOCKET_PATH, Field.notYet("fd", null, "give a path"));

    /**
     * Cloud Hypervisor's devices and features Nimbus does not build yet, as a whole: the command line's option
     * (null where it has none) and VmConfig's member (null likewise).
     */
    public static final Section NOT_YET = Section.options(null,
            Field.notYet("--balloon", "balloon", null), Field.notYet("--fs", "fs", null), Field.notYet("--pmem", "pmem", null),
            Field.notYet("--debug-console", "debug_console", null), Field.notYet("--device", "devices", null),
            Field.notYet("--user-device", "user_devices", null), Field.notYet("--vdpa", "vdpa", null),
            Field.notYet("--vsock", "vsock", null), Field.notYet("--sgx-epc", "sgx_epc", null),
            Field.notYet("--numa", "numa", null), Field.notYet(null, "iommu", null),
            Field.notYet("--watchdog", "watchdog", null), Field.notYet("--pvpanic", "pvpanic", null),
            Field.notYet("--pci-segment", "pci_segments", null), Field.notYet("--platform", "platform", null),
            Field.notYet("--tpm", "tpm", null), Field.notYet("--landlock", "landlock_enable", null),
            Field.notYet("--landlock-rules", "landlock_rules", null), Field.notYet(null, "preserved_fds", null),
            Field.notYet("--rate-limit-group", "rate_limit_groups", null));

    /** Every section, in the order the command line's help lists them. */
    public static final List<Section> SECTIONS = List.of(CPUS, MEMORY, PAYLOAD, SERIAL, CONSOLE, DISK, NET, RNG, API_SOCKET,
            NOT_YET);

    private static Section console(String option, String json, String description, Field<ConsoleConfig.Mode> mode,
                                   Field<Path> file) {
        return Section.withBareWords(option, json, description, mode, Set.of("off", "null", "tty", "pty"),
                Set.of("off", "null", "tty"), mode, file,
                Field.notYet("socket", "socket", null), Field.notYet("iommu", "iommu", null), Field.notYet(null, "url", null));
    }

    /** A virtqueue size: a power of two from 2 to 32768 (virtio 1.x split queues; a request needs two descriptors). */
    private static Field<Long> queueSize() {
        return Field.of("queue_size", Type.INTEGER).byDefault(128L).check(Field.range(2, 32768))
                .check(n -> Long.bitCount(n) != 1 ? n + " is not a power of two" : null);
    }

    /** The console modes: bare words on the command line ({@code tty}), capitalised in JSON ({@code "Tty"}). */
    private static Type<ConsoleConfig.Mode> modes() {
        return new Type<>() {
            @Override
            public ConsoleConfig.Mode fromWord(String word) throws Invalid {
                return switch (word) {
                    case "off" -> ConsoleConfig.Mode.OFF;
                    case "null" -> ConsoleConfig.Mode.NULL;
                    case "tty" -> ConsoleConfig.Mode.TTY;
                    case "pty" -> throw new Invalid("pty is not supported yet");
                    default -> throw new Invalid("expected off, null, tty or file=PATH, got '" + word + "'");
                };
            }

            @Override
            public ConsoleConfig.Mode fromJson(JsonNode node) throws Invalid {
                String mode = Type.TEXT.fromJson(node);
                return switch (mode) {
                    case "Off" -> ConsoleConfig.Mode.OFF;
                    case "Null" -> ConsoleConfig.Mode.NULL;
                    case "Tty" -> ConsoleConfig.Mode.TTY;
                    case "File" -> ConsoleConfig.Mode.FILE;
                    case "Pty", "Socket" -> throw new Invalid(mode + " is not supported yet");
                    default -> throw new Invalid("expected Off, Null, Tty or File, got '" + mode + "'");
                };
            }

            @Override
            public JsonNode toJson(ConsoleConfig.Mode value) {
                String name = value.name().toLowerCase(Locale.ROOT);
                return TextNode.valueOf(Character.toUpperCase(name.charAt(0)) + name.substring(1));
            }

            @Override
            public String label() {
                return "MODE";
            }
        };
    }

    /** What keeps {@code p} from being read as a boot image, or null when nothing does. */
    private static String imageProblem(Path p) {
        if (!Files.exists(p)) {
            return p + ": no such file";
        }
        if (!Files.isRegularFile(p)) {
            return p + ": not a regular file";
        }
        if (!Files.isReadable(p)) {
            return p + ": not readable";
        }
        return null;
    }

    private static String ipv4Problem(String v) {
        String[] parts = v.split("\\.", -1);
        boolean ok = parts.length == 4;
        for (int i = 0; ok && i < 4; i++) {
            ok = parts[i].matches("[0-9]{1,3}") && Integer.parseInt(parts[i]) <= 255;
        }
        return ok ? null : "expected an IPv4 address such as 192.168.249.1, got '" + v + "'";
    }

    private static String macProblem(String v) {
        if (!v.matches("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")) {
            return "expected a MAC address such as 12:34:56:78:9a:bc, got '" + v + "'";
        }
        return (Integer.parseInt(v.substring(0, 2), 16) & 1) != 0 ? v + " is a multicast address" : null;
    }
}
