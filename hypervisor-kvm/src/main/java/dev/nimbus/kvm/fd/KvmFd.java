package dev.nimbus.kvm.fd;

import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.host.Errno;
import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What the four kinds of KVM file descriptor share: owning the descriptor, closing it once, and making an
 * ioctl that turns -1/errno into a {@link SyscallException} naming the ioctl ({@code KVM_CREATE_VCPU
 * failed: EEXIST (File exists)}). An ioctl interrupted by a signal before it did anything (EINTR) is
 * repeated; {@code KVM_RUN}, where EINTR is an answer, does not come through here.
 */
abstract sealed class KvmFd implements AutoCloseable permits KvmSystemFd, KvmVmFd, KvmVcpuFd, KvmDeviceFd {
    /** Per-thread scratch for the small argument structs of frequent calls (IRQ lines, MSIs, one-regs). */
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(512, 16));

    protected final int fd;
    private volatile boolean closed;

    KvmFd(int fd) {
        this.fd = fd;
    }

    /** The raw descriptor. */
    public int fd() {
        return fd;
    }

    /** Zeroed per-thread scratch of {@code size} (at most 512) bytes; valid until the thread's next use. */
    static MemorySegment scratch(long size) {
        MemorySegment s = SCRATCH.get().asSlice(0, size);
        s.fill((byte) 0);
        return s;
    }

    final int ioctl(long request, MemorySegment arg, String name) {
        checkOpen(name);
        while (true) {
            int r = LibC.ioctlErrno(fd, request, arg);
            if (r >= 0) {
                return r;
            }
            if (-r != Errno.EINTR) {
                throw new SyscallException(name, -r);
            }
        }
    }

    final int ioctl(long request, long arg, String name) {
        checkOpen(name);
        while (true) {
            int r = LibC.ioctlErrno(fd, request, arg);
            if (r >= 0) {
                return r;
            }
            if (-r != Errno.EINTR) {
                throw new SyscallException(name, -r);
            }
        }
    }

    final void checkOpen(String what) {
        if (closed) {
            throw new HypervisorException(what + ": " + getClass().getSimpleName() + " is closed");
        }
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
        }
    }
}
