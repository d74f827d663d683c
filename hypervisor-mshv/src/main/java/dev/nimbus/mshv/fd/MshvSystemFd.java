package dev.nimbus.mshv.fd;

import dev.nimbus.host.LibC;
import dev.nimbus.host.NativeIoctl;
import dev.nimbus.mshv.abi.MshvConstants;
import dev.nimbus.mshv.abi.MshvIoctls;

import java.lang.foreign.MemorySegment;

import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code /dev/mshv}: where partitions are created. */
public final class MshvSystemFd extends MshvFd {
    public static final String PATH = "/dev/mshv";

    MshvSystemFd(int fd, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
    }

    /** Opens {@code /dev/mshv}. */
    public static MshvSystemFd open() {
        return new MshvSystemFd(LibC.open(PATH, LibC.O_RDWR | LibC.O_CLOEXEC, 0), NativeIoctl.LIBC);
    }

    /**
     * {@code MSHV_CREATE_PARTITION}: a partition not yet initialized (early properties are set now, then
     * {@link MshvPartitionFd#initialize}). {@code ptFlags}: {@code 1 << MSHV_PT_BIT_*}; no isolation.
     */
    public MshvPartitionFd createPartition(long ptFlags) {
        MemorySegment s = scratch(MSHV_CREATE_PARTITION.byteSize());
        s.set(JAVA_LONG, CREATE_PARTITION_PT_FLAGS, ptFlags);
        s.set(JAVA_LONG, CREATE_PARTITION_PT_ISOLATION, MshvConstants.MSHV_PT_ISOLATION_NONE);
        return new MshvPartitionFd(ioctl(MshvIoctls.MSHV_CREATE_PARTITION, s, "MSHV_CREATE_PARTITION"), nativeIoctl);
    }
}
