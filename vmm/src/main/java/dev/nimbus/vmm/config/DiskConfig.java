package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * One {@code --disk} value ({@code disks[i]} in VmConfig JSON):
 * {@code path=PATH[,readonly=on][,direct=on][,num_queues=N][,queue_size=N][,id=ID][,serial=S]}; the device
 * manager makes a virtio-blk of it.
 */
public record DiskConfig(Path path, boolean readonly, boolean direct, int numQueues, int queueSize, Optional<String> id,
                         Optional<String> serial) {
    /** One {@code --disk} value. */
    public static DiskConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.DISK, text));
    }

    /** The section's values from either front end. */
    public static DiskConfig from(Values v) {
        return new DiskConfig(v.get(Schema.DISK_PATH), v.get(Schema.DISK_READONLY), v.get(Schema.DISK_DIRECT),
                v.integer(Schema.DISK_NUM_QUEUES), v.integer(Schema.DISK_QUEUE_SIZE), v.find(Schema.DISK_ID),
                v.find(Schema.DISK_SERIAL));
    }
}
