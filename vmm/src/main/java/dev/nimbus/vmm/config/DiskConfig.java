package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * One {@code --disk} value: {@code path=PATH[,readonly=on][,direct=on][,num_queues=N][,queue_size=N][,id=ID][,serial=S]}.
 * {@code VirtioWiring} makes a virtio-blk of it; the REST API reads the same record from {@code disks[i]}.
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

    /** A virtqueue size: a power of two from 2 to 32768 (virtio 1.x split queues; a request needs two descriptors at least). */
    static int queueSize(OptionList o) throws ConfigException {
        return checkQueueSize(o.integer("queue_size", 128, Long.MIN_VALUE, Long.MAX_VALUE), o.option() + " queue_size", null);
    }

    /** The queue-size check of both front ends; {@code field} names it in the REST API (null: the same as option). */
    public static int checkQueueSize(long size, String option, String field) throws ConfigException {
        if (size < 2 || size > 32768) {
            throw new ConfigException(option, field == null ? option : field, size + " is out of range (2 to 32768)");
        }
        if (Long.bitCount(size) != 1) {
            throw new ConfigException(option, field == null ? option : field, size + " is not a power of two");
        }
        return (int) size;
    }
}
