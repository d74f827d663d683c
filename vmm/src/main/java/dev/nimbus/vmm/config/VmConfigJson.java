package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The REST API's view of the {@link Schema}: Cloud Hypervisor's {@code VmConfig} JSON (vm.create's body,
 * vm.info's {@code config}) to and from {@link VmConfig}. A member is read by its section's fields, with the
 * same checks as the command line; one Cloud Hypervisor has that Nimbus does not build yet is refused with
 * "not supported yet", an unknown one as unknown, and every message names the JSON path
 * ({@code disks[0].queue_size}).
 */
public final class VmConfigJson {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private VmConfigJson() {}

    /** Reads a VmConfig; throws with the JSON path of the first wrong field. */
    public static VmConfig read(JsonNode root) throws ConfigException {
        if (!root.isObject()) {
            throw new ConfigException("VmConfig: expected a JSON object, got " + Type.jsonType(root));
        }
        Map<Section, List<Values>> sections = new LinkedHashMap<>();
        // the members of the sections whose fields are VmConfig's own (landlock_enable, the not-built ones),
        // read together below
        Map<Section, ObjectNode> topLevel = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode node = e.getValue();
            Optional<Section> section = Schema.SECTIONS.stream().filter(s -> s.json().orElse("").equals(name)).findFirst();
            if (section.isEmpty()) {
                Section owner = Schema.SECTIONS.stream().filter(s -> s.json().isEmpty() && s.option().isEmpty())
                        .filter(s -> s.fields().stream().anyMatch(f -> f.json().orElse("").equals(name))).findFirst()
                        .orElseThrow(() -> new ConfigException(name + ": unknown field"));
                topLevel.computeIfAbsent(owner, s -> NODES.objectNode()).set(name, node);
                continue;
            }
            if (node.isNull()) {
                continue; // the same as leaving it out
            }
            Section s = section.get();
            List<Values> read = new ArrayList<>();
            if (s.isList()) {
                if (!node.isArray()) {
                    throw new ConfigException(name + ": expected a JSON array, got " + Type.jsonType(node));
                }
                for (int i = 0; i < node.size(); i++) {
                    read.add(Values.fromJson(s, node.get(i), i));
                }
            } else {
                read.add(Values.fromJson(s, node, 0));
            }
            sections.put(s, read);
        }
        for (Map.Entry<Section, ObjectNode> e : topLevel.entrySet()) {
            sections.put(e.getKey(), List.of(Values.fromJson(e.getKey(), e.getValue(), 0)));
        }
        return VmConfig.from(sections);
    }

    /**
     * Writes {@code config} the way vm.info reports it, under the schema's names, with Cloud Hypervisor's
     * defaults for what Nimbus does not build (as Cloud Hypervisor writes them: {@code "thp": true},
     * {@code "iommu": false}), so the document reads back unchanged.
     */
    public static ObjectNode write(VmConfig config) {
        ObjectNode root = NODES.objectNode();
        ObjectNode cpus = section(root, Schema.CPUS);
        put(cpus, Schema.CPUS_BOOT, (long) config.cpus().boot());
        put(cpus, Schema.CPUS_MAX, (long) config.cpus().max());
        put(cpus, Schema.CPUS_MAX_PHYS_BITS, (long) config.cpus().maxPhysBits());
        MemoryConfig mem = config.memory();
        ObjectNode memory = section(root, Schema.MEMORY);
        put(memory, Schema.MEMORY_SIZE, mem.size());
        put(memory, Schema.MEMORY_MERGEABLE, mem.mergeable());
        put(memory, Schema.MEMORY_SHARED, mem.shared());
        put(memory, Schema.MEMORY_HUGEPAGES, mem.hugepages());
        mem.hugepageSize().ifPresent(s -> put(memory, Schema.MEMORY_HUGEPAGE_SIZE, s));
        put(memory, Schema.MEMORY_PREFAULT, mem.prefault());
        put(memory, Schema.MEMORY_THP, mem.thp());
        ObjectNode payload = section(root, Schema.PAYLOAD);
        put(payload, Schema.KERNEL, config.payload().kernel());
        config.payload().initramfs().ifPresent(i -> put(payload, Schema.INITRAMFS, i));
        put(payload, Schema.CMDLINE, config.payload().cmdline());
        console(section(root, Schema.SERIAL), config.serial(), Schema.SERIAL_MODE, Schema.SERIAL_FILE, Schema.SERIAL_SOCKET);
        console(section(root, Schema.CONSOLE), config.console(), Schema.CONSOLE_MODE, Schema.CONSOLE_FILE, Schema.CONSOLE_SOCKET);
        if (!config.disks().isEmpty()) {
            ArrayNode disks = root.putArray(Schema.DISK.json().orElseThrow());
            for (DiskConfig d : config.disks()) {
                ObjectNode n = disks.addObject();
                put(n, Schema.DISK_PATH, d.path());
                put(n, Schema.DISK_READONLY, d.readonly());
                put(n, Schema.DISK_DIRECT, d.direct());
                put(n, Schema.DISK_NUM_QUEUES, (long) d.numQueues());
                put(n, Schema.DISK_QUEUE_SIZE, (long) d.queueSize());
                d.id().ifPresent(v -> put(n, Schema.DISK_ID, v));
                d.serial().ifPresent(v -> put(n, Schema.DISK_SERIAL, v));
            }
        }
        if (!config.nets().isEmpty()) {
            ArrayNode nets = root.putArray(Schema.NET.json().orElseThrow());
            for (NetConfig c : config.nets()) {
                ObjectNode n = nets.addObject();
                c.tap().ifPresent(v -> put(n, Schema.NET_TAP, v));
                c.ip().ifPresent(v -> put(n, Schema.NET_IP, v));
                c.mask().ifPresent(v -> put(n, Schema.NET_MASK, v));
                c.mac().ifPresent(v -> put(n, Schema.NET_MAC, v));
                put(n, Schema.NET_NUM_QUEUES, (long) c.numQueues());
                put(n, Schema.NET_QUEUE_SIZE, (long) c.queueSize());
                c.id().ifPresent(v -> put(n, Schema.NET_ID, v));
            }
        }
        config.rng().ifPresent(r -> put(section(root, Schema.RNG), Schema.RNG_SRC, r.src()));
        PlatformConfig p = config.platform();
        if (!p.equals(PlatformConfig.DEFAULT)) {
            ObjectNode n = section(root, Schema.PLATFORM);
            p.serialNumber().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_SERIAL_NUMBER, v));
            p.uuid().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_UUID, v));
            if (!p.oemStrings().isEmpty()) {
                put(n, Schema.PLATFORM_OEM_STRINGS, p.oemStrings());
            }
            p.manufacturer().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_MANUFACTURER, v));
            p.productName().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_PRODUCT_NAME, v));
            p.version().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_VERSION, v));
            p.family().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_FAMILY, v));
            p.skuNumber().ifPresent(v -> put(n, Schema.PLATFORM_SYSTEM_SKU_NUMBER, v));
            if (p.irqchip() != dev.nimbus.hypervisor.arch.IrqChipMode.AUTO) {
                // Nimbus's own field: written only when asked for, so a Cloud Hypervisor client never meets it otherwise
                put(n, Schema.PLATFORM_IRQCHIP, p.irqchip().name().toLowerCase(java.util.Locale.ROOT));
            }
        }
        put(root, Schema.LANDLOCK_ENABLE, config.landlock().enabled());
        if (!config.landlock().rules().isEmpty()) {
            ArrayNode rules = root.putArray(Schema.LANDLOCK_RULES.json().orElseThrow());
            for (LandlockConfig.Rule r : config.landlock().rules()) {
                ObjectNode n = rules.addObject();
                put(n, Schema.LANDLOCK_RULE_PATH, r.path());
                put(n, Schema.LANDLOCK_RULE_ACCESS, r.access());
            }
        }
        for (Section s : Schema.SECTIONS) {
            JsonNode written = s == Schema.NOT_YET ? root : s.json().map(root::get).orElse(null);
            if (written instanceof ArrayNode list) {
                list.forEach(entry -> defaults((ObjectNode) entry, s));
            } else if (written instanceof ObjectNode object) {
                defaults(object, s);
            }
        }
        return root;
    }

    /** Cloud Hypervisor's defaults of the settings Nimbus does not build, into one section's object. */
    private static void defaults(ObjectNode n, Section s) {
        for (Field<?> f : s.fields()) {
            if (f.isNotYet() && f.json().isPresent() && f.defaultValue().isPresent() && !n.has(f.json().get())) {
                putDefault(n, f);
            }
        }
    }

    private static <T> void putDefault(ObjectNode n, Field<T> f) {
        put(n, f, f.defaultValue().orElseThrow());
    }

    private static ObjectNode section(ObjectNode root, Section s) {
        return root.putObject(s.json().orElseThrow());
    }

    private static <T> void put(ObjectNode n, Field<T> f, T value) {
        n.set(f.json().orElseThrow(), f.type().toJson(value));
    }

    private static void console(ObjectNode n, ConsoleConfig c, Field<ConsoleConfig.Mode> mode, Field<Path> file,
                                Field<Path> socket) {
        put(n, mode, c.mode());
        c.file().ifPresent(f -> put(n, file, f));
        c.socket().ifPresent(s -> put(n, socket, s));
    }
}
