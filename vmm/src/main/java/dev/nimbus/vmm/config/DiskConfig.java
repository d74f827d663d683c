package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * One {@code --disk} value: {@code path=PATH[,readonly=on][,direct=on][,num_queues=N][,queue_size=N][,id=ID][,serial=S]}.
 * Parsed in full; the machine builder refuses disks ("not supported yet") until virtio-blk is wired in.
 */
public record DiskConfig(Path path, boolean readonly, boolean direct, int numQueues, int queueSize, Optional<String> id,
                         Optional<String> serial) {
    static final Set<String> KEYS = Set.of("path", "readonly", "direct", "num_queues", "queue_size", "id", "serial");
    static final Set<String> UNSUPPORTED = Set.of("iommu", "vhost_user", "socket", "rate_limit_group", "bw_size",
            "bw_one_time_burst", "bw_refill_time", "ops_size", "ops_one_time_burst", "ops_refill_time", "pci_segment",
            "image_type", "backing_files", "sparse", "queue_affinity");

    public static DiskConfig parse(String text) throws ConfigException {
        OptionList o = OptionList.parse("--disk", text, KEYS, UNSUPPORTED, Set.of());
        String path = o.string("path").orElseThrow(() -> new ConfigException("--disk: path= is required (for example path=disk.raw)"));
        return new DiskConfig(Path.of(path), o.toggle("readonly", false), o.toggle("direct", false),
                (int) o.integer("num_queues", 1, 1, 64), queueSize(o), o.string("id"), o.string("serial"));
    }

    /** A virtqueue size: a power of two up to 32768 (virtio 1.x, split queues). */
    static int queueSize(OptionList o) throws ConfigException {
        int size = (int) o.integer("queue_size", 128, 1, 32768);
        if (Integer.bitCount(size) != 1) {
            throw new ConfigException(o.option() + " queue_size: " + size + " is not a power of two");
        }
        return size;
    }
}
