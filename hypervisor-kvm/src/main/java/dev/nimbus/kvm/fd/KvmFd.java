package dev.nimbus.kvm.fd;

import dev.nimbus.host.IoctlFd;
import dev.nimbus.host.NativeIoctl;
import dev.nimbus.hypervisor.HypervisorException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The four kinds of KVM file descriptor: {@link IoctlFd} (in {@code host-sys}, shared with the MSHV backend)
 * owns the descriptor, closes it once, repeats an ioctl interrupted before it did anything (EINTR) and turns
 * -1/errno into a {@link dev.nimbus.host.SyscallException} naming the ioctl ({@code KVM_CREATE_VCPU failed:
 * EEXIST (File exists)}); {@code KVM_RUN} alone is made once ({@code ioctlOnce}), since EINTR there is how a
 * kick arrives. A call on a closed descriptor is a {@link HypervisorException}.
 */
abstract sealed class KvmFd extends IoctlFd permits KvmSystemFd, KvmVmFd, KvmVcpuFd, KvmDeviceFd {
    KvmFd(int fd, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
    }

    @Override
    protected RuntimeException closedError(String message) {
        return new HypervisorException(message);
    }

    /** An ioctl that fills a struct of {@code layout}: the struct's bytes. */
    final byte[] getStruct(long request, MemoryLayout layout, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(layout);
            ioctl(request, s, name);
            return s.toArray(JAVA_BYTE);
        }
    }

    /** An ioctl that takes a struct of {@code layout}, given as its bytes (exactly the struct's size). */
    final void setStruct(long request, MemoryLayout layout, byte[] value, String name) {
        if (value.length != layout.byteSize()) {
            throw new IllegalArgumentException(name + ": " + value.length + " bytes, struct "
                    + layout.name().orElse("?") + " has " + layout.byteSize());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(layout);
            MemorySegment.copy(value, 0, s, JAVA_BYTE, 0, value.length);
            ioctl(request, s, name);
        }
    }
}
