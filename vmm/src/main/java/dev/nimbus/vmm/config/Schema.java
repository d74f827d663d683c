package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.nimbus.host.Landlock;
import dev.nimbus.hypervisor.arch.SystemIdentity;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
    public static final Field<Long> CPUS_MAX_PHYS_BITS = Field.of("max_phys_bits", Type.INTEGER).byDefault(46L)
            .check(Field.range(32, 64));
    public static final Section CPUS = Section.of("--cpus", "cpus",
            "vCPUs (max equal to boot: no hot-plug yet); max_phys_bits: the most physical address bits they report.",
            CPUS_BOOT, CPUS_MAX,
            Field.notYet("topology", "topology", null), off("kvm_hyperv"),
            CPUS_MAX_PHYS_BITS, Field.notYet("affinity", "affinity", null),
            Field.notYetObject("features", "features", "{\"amx\": false}"), Field.notYet("nested", "nested", Type.TOGGLE, true),
            Field.notYet("core_scheduling", "core_scheduling", Type.choice(Map.of("vm", "Vm", "vcpu", "Vcpu", "off", "Off")), "Vm"),
            Field.notYet("profile", "profile", Type.choice(Map.of("host", "Host")), "Host"));

    // --memory / memory
    public static final Field<Long> MEMORY_SIZE = Field.of("size", Type.SIZE).byDefault(512L << 20)
            .check(size -> size < MemoryConfig.MIN_SIZE ? size + " bytes is too small (at least 32M)" : null)
            .check(size -> size % 4096 != 0 ? size + " bytes is not a multiple of 4K" : null)
            .check(MemoryConfig::hostProblem);
    public static final Field<Boolean> MEMORY_SHARED = Field.of("shared", Type.TOGGLE).byDefault(false);
    public static final Field<Boolean> MEMORY_HUGEPAGES = Field.of("hugepages", Type.TOGGLE).byDefault(false);
    public static final Field<Long> MEMORY_HUGEPAGE_SIZE = Field.of("hugepage_size", Type.SIZE)
            .check(size -> Long.bitCount(size) != 1 ? size + " bytes is not a power of two" : null);
    public static final Field<Boolean> MEMORY_PREFAULT = Field.of("prefault", Type.TOGGLE).byDefault(false);
    public static final Field<Boolean> MEMORY_THP = Field.of("thp", Type.TOGGLE).byDefault(true);
    public static final Field<Boolean> MEMORY_MERGEABLE = Field.of("mergeable", Type.TOGGLE).byDefault(false);
    public static final Section MEMORY = Section.of("--memory", "memory", "Guest RAM, such as size=512M or size=2G.",
            MEMORY_SIZE, MEMORY_SHARED, MEMORY_HUGEPAGES, MEMORY_HUGEPAGE_SIZE, MEMORY_PREFAULT, MEMORY_THP, MEMORY_MERGEABLE,
            Field.notYet("hotplug_method", "hotplug_method", Type.choice(Map.of("acpi", "Acpi", "virtio-mem", "VirtioMem")), "Acpi"),
            Field.notYet("hotplug_size", "hotplug_size", null), Field.notYet("hotplugged_size", "hotplugged_size", null),
            off("reserve"), Field.notYet(null, "zones", null));

    // --kernel, --initramfs, --cmdline / payload
    public static final Field<Path> KERNEL = Field.of("--kernel", "kernel", Type.PATH).required().check(Schema::imageProblem)
            .help("Kernel image to boot.");
    public static final Field<Path> INITRAMFS = Field.of("--initramfs", "initramfs", Type.PATH).check(Schema::imageProblem)
            .help("Initramfs image.");
    public static final Field<String> CMDLINE = Field.of("--cmdline", "cmdline", Type.TEXT).byDefault("").mayBeEmpty()
            .help("Kernel command line.");
    public static final Section PAYLOAD = Section.options("payload", KERNEL, INITRAMFS, CMDLINE,
            Field.notYet("--firmware", "firmware", "Nimbus boots a kernel directly"), Field.notYet("--igvm", "igvm", null),
            Field.notYet("--host-data", "host_data", null), Field.notYet(null, "fw_cfg_config", null));

    // --serial, --console / serial, console
    public static final Field<ConsoleConfig.Mode> SERIAL_MODE = Field.of(null, "mode", modes());
    public static final Field<Path> SERIAL_FILE = Field.of("file", Type.PATH);
    public static final Field<Path> SERIAL_SOCKET = Field.of("socket", Type.PATH);
    public static final Section SERIAL = console("--serial", "serial", "Serial port (default: null).", SERIAL_MODE, SERIAL_FILE,
            SERIAL_SOCKET);
    public static final Field<ConsoleConfig.Mode> CONSOLE_MODE = Field.of(null, "mode", modes());
    public static final Field<Path> CONSOLE_FILE = Field.of("file", Type.PATH);
    public static final Field<Path> CONSOLE_SOCKET = Field.of("socket", Type.PATH);
    public static final Section CONSOLE = console("--console", "console", "virtio console (default: tty).", CONSOLE_MODE,
            CONSOLE_FILE, CONSOLE_SOCKET);

    // --disk / disks
    public static final Field<Path> DISK_PATH = Field.of("path", Type.PATH).required();
    public static final Field<Boolean> DISK_READONLY = Field.of("readonly", Type.TOGGLE).byDefault(false);
    /** O_DIRECT on the image: the host's page cache is left out (a file system without direct I/O is refused). */
    public static final Field<Boolean> DISK_DIRECT = Field.of("direct", Type.TOGGLE).byDefault(false);
    public static final Field<Long> DISK_NUM_QUEUES = Field.of("num_queues", Type.INTEGER).byDefault(1L)
            .check(Field.range(1, 64));
    public static final Field<Long> DISK_QUEUE_SIZE = queueSize(128);
    public static final Field<String> DISK_ID = Field.of("id", Type.text("ID"));
    public static final Field<String> DISK_SERIAL = Field.of("serial", Type.text("SERIAL"));
    public static final Section DISK = Section.listOf("--disk", "disks",
            "virtio-blk disks on raw images, one value each.",
            DISK_PATH, DISK_READONLY, DISK_DIRECT, DISK_NUM_QUEUES, DISK_QUEUE_SIZE, DISK_ID, DISK_SERIAL,
            off("iommu"), Field.notYet("pci_segment", "pci_segment", Type.INTEGER, 0L),
            Field.notYet("pci_device_id", "pci_device_id", null), off("vhost_user"),
            Field.notYet("socket", "vhost_socket", null), Field.notYet("rate_limit_group", "rate_limit_group", null),
            zero("bw_size"), zero("bw_one_time_burst"), zero("bw_refill_time"), zero("ops_size"),
            zero("ops_one_time_burst"), zero("ops_refill_time"), Field.notYet(null, "rate_limiter_config", null),
            Field.notYet("_disable_io_uring", "disable_io_uring", Type.TOGGLE, false),
            Field.notYet("_disable_aio", "disable_aio", Type.TOGGLE, false),
            Field.notYet("queue_affinity", "queue_affinity", null), off("backing_files"),
            Field.notYet("sparse", "sparse", Type.TOGGLE, true),
            // Nimbus reads raw images: "Raw", or CH's "Unknown" (detect), which finds raw for them
            Field.notYet("image_type", "image_type", Type.choice(Map.of("raw", "Raw", "qcow2", "Qcow2", "vhd", "FixedVhd",
                    "vhdx", "Vhdx", "vmdk", "FlatVmdk", "unknown", "Unknown")), "Unknown").also("Raw"),
            Field.notYet("lock_granularity", "lock_granularity", Type.choice(Map.of("byte-range", "ByteRange", "full", "Full")),
                    "ByteRange"));

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
    public static final Field<Long> NET_QUEUE_SIZE = queueSize(256);
    public static final Field<String> NET_ID = Field.of("id", Type.text("ID"));
    public static final Section NET = Section.listOf("--net", "net",
            "virtio-net interfaces on taps, one value each (a tap Nimbus creates, or tap%%d).",
            NET_TAP, NET_IP, NET_MASK, NET_MAC, NET_NUM_QUEUES, NET_QUEUE_SIZE, NET_ID,
            Field.notYet("host_mac", "host_mac", "the tap keeps the MAC address the kernel gave it"),
            Field.notYet("mtu", "mtu", "the tap keeps its MTU"), Field.notYet("fd", "fds", null),
            off("iommu"), Field.notYet("pci_segment", "pci_segment", Type.INTEGER, 0L),
            Field.notYet("pci_device_id", "pci_device_id", null), off("vhost_user"),
            Field.notYet("socket", "vhost_socket", null),
            Field.notYet("vhost_mode", "vhost_mode", Type.choice(Map.of("client", "Client", "server", "Server")), "Client"),
            // the tap is opened with offloads and the device offers TSO and checksums; turning them off is not built
            Field.notYet("offload_tso", "offload_tso", Type.TOGGLE, true), Field.notYet("offload_ufo", "offload_ufo", Type.TOGGLE, true),
            Field.notYet("offload_csum", "offload_csum", Type.TOGGLE, true),
            zero("bw_size"), zero("bw_one_time_burst"), zero("bw_refill_time"), zero("ops_size"),
            zero("ops_one_time_burst"), zero("ops_refill_time"), Field.notYet(null, "rate_limiter_config", null));

    // --rng / rng
    public static final Field<Path> RNG_SRC = Field.of("src", Type.PATH).byDefault(Path.of("/dev/urandom"));
    public static final Section RNG = Section.of("--rng", "rng",
            "virtio-rng with this entropy source (default /dev/urandom).", RNG_SRC, off("iommu"),
            Field.notYet("pci_segment", "pci_segment", Type.INTEGER, 0L), Field.notYet("pci_device_id", "pci_device_id", null),
            Field.notYet("id", "id", null));

    // --api-socket (the command line only)
    /** The kernel's limit for a socket path (sun_path), less the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;
    public static final Field<Path> API_SOCKET_PATH = Field.of("path", Type.PATH)
            .check(p -> p.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES
                    ? "longer than " + MAX_SOCKET_PATH_BYTES + " bytes, the limit of a Unix socket path" : null);
    /** {@code --api-socket fd=N}: a listening Unix socket a supervisor made, handed down as descriptor N. */
    public static final Field<Long> API_SOCKET_FD = Field.of("fd", null, Type.INTEGER).check(Field.range(0, Integer.MAX_VALUE));
    public static final Section API_SOCKET = Section.of("--api-socket", null,
            "Serve the REST API (Cloud Hypervisor's /api/v1) on a Unix socket: a new one at path=PATH (mode 0600), or "
                    + "the listening one a supervisor handed down as descriptor fd=N. Without --kernel the VMM waits for "
                    + "vm.create and vm.boot; it runs until vmm.shutdown.",
            API_SOCKET_PATH, API_SOCKET_FD);

    // --restore (the command line), and the bodies of vm.restore and vm.snapshot (the REST API's own: no VmConfig member)
    /** Where a snapshot is: a {@code file://} URL of its directory, as Cloud Hypervisor takes it. */
    public static final Field<String> RESTORE_SOURCE_URL = Field.of("source_url", Type.text("file:///DIR")).required()
            .check(RestoreConfig::urlProblem);
    public static final Field<Boolean> RESTORE_PREFAULT = Field.of("prefault", Type.TOGGLE).byDefault(false);
    /** Nimbus's own: resume the guest once restored, where Cloud Hypervisor leaves it paused for vm.resume. */
    public static final Field<Boolean> RESTORE_RESUME = Field.of("resume", Type.TOGGLE).byDefault(false);
    public static final Section RESTORE = Section.of("--restore", null,
            "Restore the VM of a snapshot (vm.snapshot's directory) instead of booting one: source_url=file:///DIR, "
                    + "prefault=on to load all guest RAM at once, resume=on to run it at once (else it waits, paused, for "
                    + "vm.resume on the --api-socket).",
            RESTORE_SOURCE_URL, RESTORE_PREFAULT, RESTORE_RESUME);
    /** {@code vm.restore}'s body: the fields of {@code --restore}, named as Cloud Hypervisor's RestoreConfig. */
    public static final Field<String> RESTORE_BODY_SOURCE_URL = Field.of(null, "source_url", Type.text("file:///DIR")).required()
            .check(RestoreConfig::urlProblem);
    public static final Field<Boolean> RESTORE_BODY_PREFAULT = Field.of(null, "prefault", Type.TOGGLE).byDefault(false);
    public static final Field<Boolean> RESTORE_BODY_RESUME = Field.of(null, "resume", Type.TOGGLE).byDefault(false);
    public static final Section RESTORE_BODY = Section.options(null, RESTORE_BODY_SOURCE_URL, RESTORE_BODY_PREFAULT, RESTORE_BODY_RESUME);
    /** {@code vm.snapshot}'s body, Cloud Hypervisor's VmSnapshotConfig. */
    public static final Field<String> SNAPSHOT_DESTINATION_URL = Field.of(null, "destination_url", Type.text("file:///DIR")).required()
            .check(RestoreConfig::urlProblem);
    public static final Section SNAPSHOT_BODY = Section.options(null, SNAPSHOT_DESTINATION_URL);

    // --landlock, --landlock-rules / landlock_enable, landlock_rules
    public static final Field<Boolean> LANDLOCK_ENABLE = Field.of("--landlock", "landlock_enable", Type.FLAG).byDefault(false)
            .mayBeEmpty().check(on -> on && Landlock.abiVersion() < 1
                    ? "this kernel has no Landlock (not built in, or not in the boot's lsm= list); run without it" : null)
            .help("Once the VM is built, restrict the VMM's file access to the files its configuration names "
                    + "(Landlock; an error where the kernel has none).");
    public static final Section LANDLOCK = Section.options(null, LANDLOCK_ENABLE);
    public static final Field<Path> LANDLOCK_RULE_PATH = Field.of("path", Type.PATH).required()
            .check(p -> Files.exists(p) ? null : p + ": no such file or directory");
    public static final Field<String> LANDLOCK_RULE_ACCESS = Field.of("access",
            Type.choice(Map.of("r", "r", "w", "w", "rw", "rw"))).required();
    public static final Section LANDLOCK_RULES = Section.listOf("--landlock-rules", "landlock_rules",
            "More files the VMM may reach under --landlock (read, write or both; a directory: all beneath it).",
            LANDLOCK_RULE_PATH, LANDLOCK_RULE_ACCESS);

    // --platform / platform: the machine's identity in its SMBIOS tables (x86-64); one PCI segment
    public static final Field<String> PLATFORM_SYSTEM_SERIAL_NUMBER = smbiosText("system_serial_number");
    public static final Field<String> PLATFORM_SERIAL_NUMBER = smbiosText("serial_number");
    public static final Field<java.util.UUID> PLATFORM_SYSTEM_UUID = Field.of("system_uuid", Type.UUID);
    public static final Field<java.util.UUID> PLATFORM_UUID = Field.of("uuid", Type.UUID);
    public static final Field<List<String>> PLATFORM_OEM_STRINGS = Field.of("oem_strings", Type.textList(Type.TEXT))
            .check(l -> l.stream().map(Schema::smbiosTextProblem).filter(java.util.Objects::nonNull).findFirst()
                    .orElse(l.size() > 255 ? l.size() + " strings are more than SMBIOS holds (255)" : null));
    public static final Field<String> PLATFORM_SYSTEM_MANUFACTURER = smbiosText("system_manufacturer");
    public static final Field<String> PLATFORM_SYSTEM_PRODUCT_NAME = smbiosText("system_product_name");
    public static final Field<String> PLATFORM_SYSTEM_VERSION = smbiosText("system_version");
    public static final Field<String> PLATFORM_SYSTEM_FAMILY = smbiosText("system_family");
    public static final Field<String> PLATFORM_SYSTEM_SKU_NUMBER = smbiosText("system_sku_number");
    /**
     * Nimbus's own (Cloud Hypervisor has no such setting): where the interrupt controllers are. {@code auto} the
     * machine model's choice for the hypervisor (x86-64: KVM's in-kernel PIC/IOAPIC/PIT; the split where there
     * is no in-kernel IOAPIC, as on MSHV), {@code kernel} all in the hypervisor, {@code split} (x86-64) the local
     * APICs in the hypervisor and the IOAPIC in the VMM, no PIC and no PIT.
     */
    public static final Field<String> PLATFORM_IRQCHIP = Field.of("irqchip",
            Type.choice(Map.of("auto", "auto", "kernel", "kernel", "split", "split"))).byDefault("auto");
    public static final Section PLATFORM = Section.of("--platform", "platform",
            "Platform settings: the system's identity in its SMBIOS tables on x86-64 (serial_number, uuid, "
                    + "oem_strings=[A,B], system_manufacturer, ...); one PCI segment; irqchip=split (Nimbus's own) "
                    + "puts the x86-64 IOAPIC in the VMM rather than the hypervisor.",
            Field.notYet("num_pci_segments", "num_pci_segments", Type.INTEGER, 1L),
            Field.notYet("iommu_segments", "iommu_segments", null),
            Field.notYet("iommu_address_width", "iommu_address_width_bits", Type.INTEGER, 64L),
            PLATFORM_SYSTEM_SERIAL_NUMBER, PLATFORM_SERIAL_NUMBER, PLATFORM_SYSTEM_UUID, PLATFORM_UUID, PLATFORM_OEM_STRINGS,
            PLATFORM_SYSTEM_MANUFACTURER, PLATFORM_SYSTEM_PRODUCT_NAME, PLATFORM_SYSTEM_VERSION, PLATFORM_SYSTEM_FAMILY,
            PLATFORM_SYSTEM_SKU_NUMBER, PLATFORM_IRQCHIP,
            Field.notYet("chassis_asset_tag", "chassis_asset_tag", null), off("iommufd"),
            Field.notYet("iommufd_fd", "iommufd_fd", null), Field.notYet("vfio_p2p_dma", "vfio_p2p_dma", Type.TOGGLE, true),
            off("tdx"), off("sev_snp"));

    /**
     * Cloud Hypervisor's devices and features Nimbus does not build yet, as a whole: the command line's option
     * (null where it has none) and VmConfig's member (null likewise).
     */
    public static final Section NOT_YET = Section.options(null,
            Field.notYet("--balloon", "balloon", null), Field.notYet("--fs", "fs", null), Field.notYet("--pmem", "pmem", null),
            // CH's default debug console (port 0xe9, off); on the command line only "off" asks for nothing
            Field.notYetObject("--debug-console", "debug_console", "{\"mode\": \"Off\", \"iobase\": 233}").also(TextNode.valueOf("off")),
            Field.notYet("--device", "devices", null), Field.notYet("--user-device", "user_devices", null),
            Field.notYet("--vdpa", "vdpa", null), Field.notYet("--vsock", "vsock", null),
            Field.notYet("--numa", "numa", null), Field.notYet(null, "iommu", Type.TOGGLE, false),
            Field.notYet("--watchdog", "watchdog", Type.TOGGLE, false), Field.notYet("--pvpanic", "pvpanic", Type.TOGGLE, false),
            Field.notYet("--pci-segment", "pci_segments", null), Field.notYet("--tpm", "tpm", null),
            Field.notYet(null, "preserved_fds", null),
            Field.notYet("--rate-limit-group", "rate_limit_groups", null),
            Field.notYet("--generic-vhost-user", "generic_vhost_user", null), Field.notYet(null, "rtc", null));

    /** Every section, in the order the command line's help lists them. */
    public static final List<Section> SECTIONS = List.of(CPUS, MEMORY, PAYLOAD, SERIAL, CONSOLE, DISK, NET, RNG, PLATFORM,
            LANDLOCK, LANDLOCK_RULES, API_SOCKET, RESTORE, NOT_YET);

    private static Section console(String option, String json, String description, Field<ConsoleConfig.Mode> mode,
                                   Field<Path> file, Field<Path> socket) {
        return Section.withBareWords(option, json, description, mode, Set.of("off", "null", "tty", "pty"),
                Set.of("off", "null", "tty", "pty"), mode, file, socket, off("iommu"),
                Field.notYet("pci_segment", "pci_segment", Type.INTEGER, 0L), Field.notYet("pci_device_id", "pci_device_id", null),
                Field.notYet("id", "id", null));
    }

    /** A text field whose value the SMBIOS tables hold as a string ({@link SystemIdentity#textProblem}). */
    private static Field<String> smbiosText(String name) {
        return Field.of(name, Type.TEXT).check(Schema::smbiosTextProblem);
    }

    private static String smbiosTextProblem(String value) {
        String problem = SystemIdentity.textProblem(value);
        return problem == null ? null : "'" + value + "' " + problem;
    }

    /** A switch Cloud Hypervisor has, off by default, that Nimbus does not build: accepted off. */
    private static Field<Boolean> off(String name) {
        return Field.notYet(name, name, Type.TOGGLE, false);
    }

    /** A rate-limiter key of the command line ({@code bw_size}): 0, Cloud Hypervisor's default, asks for nothing. */
    private static Field<Long> zero(String cli) {
        return Field.notYet(cli, null, Type.INTEGER, 0L);
    }

    /** A virtqueue size (default {@code dflt}): a power of two from 2 to 32768 (virtio 1.x split queues; a request needs two descriptors). */
    private static Field<Long> queueSize(long dflt) {
        return Field.of("queue_size", Type.INTEGER).byDefault(dflt).check(Field.range(2, 32768))
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
                    case "pty" -> ConsoleConfig.Mode.PTY;
                    default -> throw new Invalid("expected off, null, tty, pty, file=PATH or socket=PATH, got '" + word + "'");
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
                    case "Pty" -> ConsoleConfig.Mode.PTY;
                    case "Socket" -> ConsoleConfig.Mode.SOCKET;
                    default -> throw new Invalid("expected Off, Null, Tty, Pty, File or Socket, got '" + mode + "'");
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
