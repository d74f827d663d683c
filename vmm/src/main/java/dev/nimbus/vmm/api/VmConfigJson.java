package dev.nimbus.vmm.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.RngConfig;
import dev.nimbus.vmm.config.VmConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Cloud Hypervisor's {@code VmConfig} JSON (vm.create's body, vm.info's {@code config}) to and from
 * {@link VmConfig}. Values go through the same checks as the command line's options. A field Cloud
 * Hypervisor has that Nimbus does not implement yet is refused with "not supported yet", an unknown one as
 * unknown, and a value of the wrong JSON type names the field and the type expected.
 */
final class VmConfigJson {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    // Cloud Hypervisor's VmConfig fields, by what Nimbus does with them
    private static final Set<String> TOP = Set.of("cpus", "memory", "payload", "serial", "console", "disks", "net", "rng");
    private static final Set<String> TOP_UNSUPPORTED = Set.of("rate_limit_groups", "balloon", "fs",
            "pmem", "debug_console", "devices", "user_devices", "vdpa", "vsock", "sgx_epc", "numa", "iommu", "watchdog",
            "pvpanic", "pci_segments", "platform", "tpm", "landlock_enable", "landlock_rules", "preserved_fds");
    private static final Set<String> CPUS = Set.of("boot_vcpus", "max_vcpus");
    private static final Set<String> CPUS_UNSUPPORTED = Set.of("topology", "kvm_hyperv", "max_phys_bits", "affinity", "features", "nested");
    private static final Set<String> MEMORY = Set.of("size");
    private static final Set<String> MEMORY_UNSUPPORTED = Set.of("hotplug_size", "hotplugged_size", "mergeable", "hotplug_method",
            "shared", "hugepages", "hugepage_size", "prefault", "zones", "thp");
    private static final Set<String> PAYLOAD = Set.of("kernel", "initramfs", "cmdline");
    private static final Set<String> PAYLOAD_UNSUPPORTED = Set.of("firmware", "igvm", "host_data");
    private static final Set<String> DISK = Set.of("path", "readonly", "direct", "num_queues", "queue_size", "id", "serial");
    private static final Set<String> DISK_UNSUPPORTED = Set.of("iommu", "vhost_user", "vhost_socket", "rate_limit_group",
            "rate_limiter_config", "disable_io_uring", "disable_aio", "pci_segment", "queue_affinity", "backing_files",
            "sparse", "image_type");
    private static final Set<String> NET = Set.of("tap", "ip", "mask", "mac", "num_queues", "queue_size", "id");
    private static final Set<String> NET_UNSUPPORTED = Set.of("host_mac", "mtu", "iommu", "vhost_user", "vhost_socket",
            "vhost_mode", "fd", "rate_limiter_config", "pci_segment", "offload_tso", "offload_ufo", "offload_csum");
    private static final Set<String> RNG = Set.of("src");
    private static final Set<String> RNG_UNSUPPORTED = Set.of("iommu");
    private static final Set<String> CONSOLE = Set.of("mode", "file");
    private static final Set<String> CONSOLE_UNSUPPORTED = Set.of("iommu", "socket", "url");

    private VmConfigJson() {}

    /** Reads a VmConfig; throws with the JSON path of the first wrong field. */
    static VmConfig read(JsonNode root) throws ConfigException {
        object(root, "VmConfig");
        checkFields(root, "", TOP, TOP_UNSUPPORTED);
        JsonNode cpus = root.get("cpus");
        CpusConfig c = CpusConfig.DEFAULT;
        if (present(cpus)) {
            object(cpus, "cpus");
            checkFields(cpus, "cpus.", CPUS, CPUS_UNSUPPORTED);
            int boot = (int) integer(cpus, "cpus.", "boot_vcpus", 1, 1, 255);
            c = CpusConfig.of(boot, (int) integer(cpus, "cpus.", "max_vcpus", boot, 1, 255));
        }
        JsonNode memory = root.get("memory");
        MemoryConfig m = MemoryConfig.DEFAULT;
        if (present(memory)) {
            object(memory, "memory");
            checkFields(memory, "memory.", MEMORY, MEMORY_UNSUPPORTED);
            m = MemoryConfig.of(integer(memory, "memory.", "size", MemoryConfig.DEFAULT.size(), 0, Long.MAX_VALUE));
        }
        JsonNode payload = root.get("payload");
        if (!present(payload)) {
            throw new ConfigException("payload: required (payload.kernel names the kernel to boot)");
        }
        object(payload, "payload");
        checkFields(payload, "payload.", PAYLOAD, PAYLOAD_UNSUPPORTED);
        PayloadConfig p = PayloadConfig.of(string(payload, "payload.", "kernel"), string(payload, "payload.", "initramfs"),
                string(payload, "payload.", "cmdline"));
        return new VmConfig(c, m, p, console(root.get("serial"), "serial", ConsoleConfig.Mode.NULL),
                console(root.get("console"), "console", ConsoleConfig.Mode.TTY), disks(root.get("disks")),
                nets(root.get("net")), rng(root.get("rng")), Optional.empty());
    }

    private static List<DiskConfig> disks(JsonNode node) throws ConfigException {
        List<DiskConfig> disks = new ArrayList<>();
        for (int i = 0; present(node) && i < array(node, "disks").size(); i++) {
            JsonNode d = node.get(i);
            String prefix = "disks[" + i + "].";
            object(d, prefix.substring(0, prefix.length() - 1));
            checkFields(d, prefix, DISK, DISK_UNSUPPORTED);
            String path = string(d, prefix, "path");
            if (path == null || path.isEmpty()) {
                throw new ConfigException(prefix + "path: required (the disk image)");
            }
            if (bool(d, prefix, "direct")) {
                throw new ConfigException(prefix + "direct: not supported yet (Nimbus uses the host page cache; flush still reaches the disk)");
            }
            long queues = integer(d, prefix, "num_queues", 1, 1, 64);
            if (queues > 1) {
                throw new ConfigException(prefix + "num_queues: " + queues + " queues are not supported yet (one request queue per disk)");
            }
            int queueSize = DiskConfig.checkQueueSize(integer(d, prefix, "queue_size", 128, Long.MIN_VALUE, Long.MAX_VALUE),
                    "--disk queue_size", prefix + "queue_size");
            disks.add(new DiskConfig(Path.of(path), bool(d, prefix, "readonly"), false, (int) queues, queueSize,
                    Optional.ofNullable(string(d, prefix, "id")), Optional.ofNullable(string(d, prefix, "serial"))));
        }
        return disks;
    }

    private static List<NetConfig> nets(JsonNode node) throws ConfigException {
        List<NetConfig> nets = new ArrayList<>();
        for (int i = 0; present(node) && i < array(node, "net").size(); i++) {
            JsonNode n = node.get(i);
            String prefix = "net[" + i + "].";
            object(n, prefix.substring(0, prefix.length() - 1));
            checkFields(n, prefix, NET, NET_UNSUPPORTED);
            Optional<String> tap = NetConfig.checkTap(string(n, prefix, "tap"), prefix);
            Optional<String> ip = NetConfig.checkIpv4(string(n, prefix, "ip"), "ip", prefix);
            Optional<String> mask = NetConfig.checkIpv4(string(n, prefix, "mask"), "mask", prefix);
            Optional<String> mac = NetConfig.checkMac(string(n, prefix, "mac"), "mac", prefix);
            int queues = NetConfig.checkNumQueues(integer(n, prefix, "num_queues", 2, Long.MIN_VALUE, Long.MAX_VALUE), prefix);
            if (queues != 2) {
                throw new ConfigException(prefix + "num_queues: " + queues + " needs multiqueue, which is not supported yet "
                        + "(one receive/transmit pair: 2)");
            }
            int queueSize = DiskConfig.checkQueueSize(integer(n, prefix, "queue_size", 128, Long.MIN_VALUE, Long.MAX_VALUE),
                    "--net queue_size", prefix + "queue_size");
            nets.add(new NetConfig(tap, ip, mask, mac, Optional.empty(), Optional.empty(), queues, queueSize,
                    Optional.ofNullable(string(n, prefix, "id"))));
        }
        return nets;
    }

    private static Optional<RngConfig> rng(JsonNode node) throws ConfigException {
        if (!present(node)) {
            return Optional.empty();
        }
        object(node, "rng");
        checkFields(node, "rng.", RNG, RNG_UNSUPPORTED);
        String src = string(node, "rng.", "src");
        return Optional.of(new RngConfig(Path.of(src == null || src.isEmpty() ? "/dev/urandom" : src)));
    }

    private static ConsoleConfig console(JsonNode node, String name, ConsoleConfig.Mode dflt) throws ConfigException {
        if (!present(node)) {
            return ConsoleConfig.of(dflt);
        }
        object(node, name);
        checkFields(node, name + ".", CONSOLE, CONSOLE_UNSUPPORTED);
        String mode = string(node, name + ".", "mode");
        if (mode == null) {
            throw new ConfigException(name + ".mode: required (Off, Null, Tty or File)");
        }
        String file = string(node, name + ".", "file");
        return switch (mode) {
            case "Off" -> ConsoleConfig.of(ConsoleConfig.Mode.OFF);
            case "Null" -> ConsoleConfig.of(ConsoleConfig.Mode.NULL);
            case "Tty" -> ConsoleConfig.of(ConsoleConfig.Mode.TTY);
            case "File" -> {
                if (file == null || file.isEmpty()) {
                    throw new ConfigException(name + ".file: required with mode File");
                }
                yield new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(Path.of(file)));
            }
            case "Pty", "Socket" -> throw new ConfigException(name + ".mode: " + mode + " is not supported yet");
            default -> throw new ConfigException(name + ".mode: expected Off, Null, Tty or File, got '" + mode + "'");
        };
    }

    /** Writes {@code config} the way vm.info reports it. */
    static ObjectNode write(VmConfig config) {
        ObjectNode root = NODES.objectNode();
        root.putObject("cpus").put("boot_vcpus", config.cpus().boot()).put("max_vcpus", config.cpus().max());
        root.putObject("memory").put("size", config.memory().size());
        ObjectNode payload = root.putObject("payload").put("kernel", config.payload().kernel().toString());
        config.payload().initramfs().ifPresent(i -> payload.put("initramfs", i.toString()));
        payload.put("cmdline", config.payload().cmdline());
        root.set("serial", console(config.serial()));
        root.set("console", console(config.console()));
        if (!config.disks().isEmpty()) {
            var disks = root.putArray("disks");
            for (DiskConfig d : config.disks()) {
                ObjectNode n = disks.addObject().put("path", d.path().toString()).put("readonly", d.readonly())
                        .put("direct", d.direct()).put("num_queues", d.numQueues()).put("queue_size", d.queueSize());
                d.id().ifPresent(v -> n.put("id", v));
                d.serial().ifPresent(v -> n.put("serial", v));
            }
        }
        if (!config.nets().isEmpty()) {
            var nets = root.putArray("net");
            for (NetConfig c : config.nets()) {
                ObjectNode n = nets.addObject();
                c.tap().ifPresent(v -> n.put("tap", v));
                c.ip().ifPresent(v -> n.put("ip", v));
                c.mask().ifPresent(v -> n.put("mask", v));
                c.mac().ifPresent(v -> n.put("mac", v));
                n.put("num_queues", c.numQueues()).put("queue_size", c.queueSize());
                c.id().ifPresent(v -> n.put("id", v));
            }
        }
        config.rng().ifPresent(r -> root.putObject("rng").put("src", r.src().toString()));
        return root;
    }

    private static ObjectNode console(ConsoleConfig c) {
        ObjectNode n = NODES.objectNode();
        n.put("mode", switch (c.mode()) {
            case OFF -> "Off";
            case NULL -> "Null";
            case TTY -> "Tty";
            case FILE -> "File";
        });
        c.file().ifPresent(f -> n.put("file", f.toString()));
        return n;
    }

    private static JsonNode array(JsonNode n, String what) throws ConfigException {
        if (!n.isArray()) {
            throw new ConfigException(what + ": expected a JSON array, got " + type(n));
        }
        return n;
    }

    private static boolean bool(JsonNode parent, String prefix, String field) throws ConfigException {
        JsonNode n = parent.get(field);
        if (!present(n)) {
            return false;
        }
        if (!n.isBoolean()) {
            throw new ConfigException(prefix + field + ": expected a boolean, got " + type(n));
        }
        return n.booleanValue();
    }

    private static boolean present(JsonNode n) {
        return n != null && !n.isNull();
    }

    private static void object(JsonNode n, String what) throws ConfigException {
        if (!n.isObject()) {
            throw new ConfigException(what + ": expected a JSON object, got " + type(n));
        }
    }

    private static void checkFields(JsonNode n, String prefix, Set<String> known, Set<String> unsupported) throws ConfigException {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (known.contains(e.getKey())) {
                continue;
            }
            if (unsupported.contains(e.getKey())) {
                if (e.getValue().isNull()) {
                    continue; // an explicit null is the same as leaving it out
                }
                throw new ConfigException(prefix + e.getKey() + ": not supported yet");
            }
            throw new ConfigException(prefix + e.getKey() + ": unknown field");
        }
    }

    private static long integer(JsonNode parent, String prefix, String field, long dflt, long min, long max) throws ConfigException {
        JsonNode n = parent.get(field);
        if (!present(n)) {
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw new ConfigException(prefix + field + ": expected an integer, got " + type(n));
        }
        long v = n.longValue();
        if (v < min || v > max) {
            throw new ConfigException(prefix + field + ": " + v + " is out of range (" + min + " to " + max + ")");
        }
        return v;
    }

    private static String string(JsonNode parent, String prefix, String field) throws ConfigException {
        JsonNode n = parent.get(field);
        if (!present(n)) {
            return null;
        }
        if (!n.isTextual()) {
            throw new ConfigException(prefix + field + ": expected a string, got " + type(n));
        }
        if (n.textValue().indexOf('\0') >= 0) {
            // no path, name or command line can hold one; Path.of would throw, the kernel would cut there
            throw new ConfigException(prefix + field + ": contains a NUL character");
        }
        return n.textValue();
    }

    private static String type(JsonNode n) {
        return switch (n.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
