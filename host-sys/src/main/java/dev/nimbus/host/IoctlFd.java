package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What every hypervisor descriptor class shares, whatever the backend (KVM's system, VM, vCPU and device
 * fds; MSHV's system, partition and VP fds): owning the descriptor, closing it once, and making an ioctl
 * that turns -1/errno into a {@link SyscallException} naming the ioctl ({@code KVM_CREATE_VCPU failed: EEXIST
 * (File exists)}). Every ioctl goes through here, and an ioctl interrupted by a signal before it did anything
 * (EINTR) is repeated, in one loop ({@code untilNotInterrupted}). The one exception is the run ioctl
 * ({@link #ioctlOnce}), where EINTR is an answer: it is how a kick arrives.
 */
public abstract class IoctlFd implements AutoCloseable {
    private static final long SCRATCH_SIZE = 512;
    /** Copied over a prefix of the scratch to zero it without making a slice (lives as long as the class). */
    private static final MemorySegment ZEROS = Arena.global().allocate(SCRATCH_SIZE);

    /**
     * Per-thread scratch for the small argument structs (IRQ lines, MSIs, one-regs, attributes). The kernel
     * copies an argument in (and its answer out) within the ioctl, so a struct is needed only from filling it
     * until the call returns, by the thread that makes the call: one segment per thread serves every fd that
     * thread uses, and concurrent callers (several device threads raising interrupt lines at once) never
     * share one, without a lock around a system call or a pool to return to. {@code Arena.ofAuto()}: the
     * segment lives as long as its thread's {@code ThreadLocal} entry and the GC frees it after the thread
     * ends (a confined arena would have to be closed by its thread, and nothing runs when a thread ends).
     * The threads that make hypervisor calls are few and long-lived (vCPUs, device workers), 512 bytes each.
     */
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SCRATCH_SIZE, 16));

    protected final int fd;
    protected final NativeIoctl nativeIoctl;
    private volatile boolean closed;

    protected IoctlFd(int fd, NativeIoctl nativeIoctl) {
        this.fd = fd;
        this.nativeIoctl = nativeIoctl;
    }

    /** The raw descriptor. */
    public int fd() {
        return fd;
    }

    /**
     * This thread's scratch segment (512 bytes) with its first {@code size} bytes zeroed; valid until the
     * thread's next call of this. It is the whole segment, not a {@code size}-byte slice, because a slice is a
     * new object per call and this is on the path of every interrupt line: read and write it at the struct's
     * offsets and pass sizes explicitly ({@code asSlice} where a sized segment is wanted on a cold path).
     */
    protected static MemorySegment scratch(long size) {
        if (size > SCRATCH_SIZE) {
            throw new IllegalArgumentException("scratch of " + size + " bytes asked for; it has " + SCRATCH_SIZE);
        }
        MemorySegment s = SCRATCH.get();
        MemorySegment.copy(ZEROS, 0, s, 0, size);
        return s;
    }

    /** The ioctl with a pointer argument; throws naming {@code name} on an error. */
    protected final int ioctl(long request, MemorySegment arg, String name) {
        return checked(ioctlErrno(request, arg, name), name);
    }

    /** The ioctl with an integer argument (or none: 0); throws naming {@code name} on an error. */
    protected final int ioctl(long request, long arg, String name) {
        checkOpen(name);
        return checked(untilNotInterrupted(request, null, arg), name);
    }

    /**
     * The ioctl with a pointer argument for callers to whom an errno is an answer ({@code ENODEV} to a device
     * test, {@code E2BIG} to a size probe): the result, or minus the errno (never EINTR, which is repeated).
     */
    protected final int ioctlErrno(long request, MemorySegment arg, String name) {
        checkOpen(name);
        return untilNotInterrupted(request, arg, 0);
    }

    /**
     * The ioctl exactly once, EINTR included: the result or minus the errno. Only for the run ioctls
     * ({@code KVM_RUN}, {@code MSHV_RUN_VP}), where EINTR after a kick's signal is the expected outcome and
     * must reach the run loop; repeating it would lose the kick.
     */
    protected final int ioctlOnce(long request, long arg) {
        return nativeIoctl.ioctl(fd, request, arg);
    }

    /** {@link #ioctlOnce(long, long)} with a pointer argument ({@code MSHV_RUN_VP}'s message buffer). */
    protected final int ioctlOnce(long request, MemorySegment arg) {
        return nativeIoctl.ioctl(fd, request, arg);
    }

    /**
     * The one EINTR loop. A signal whose handler has no {@code SA_RESTART}, arriving while the kernel waits
     * inside an ioctl ({@code KVM_CREATE_VM} may wait for memory), fails it with EINTR before it did
     * anything; the call is then made again.
     */
    private int untilNotInterrupted(long request, MemorySegment pointer, long value) {
        while (true) {
            int r = pointer != null ? nativeIoctl.ioctl(fd, request, pointer) : nativeIoctl.ioctl(fd, request, value);
            if (r != -Errno.EINTR) {
                return r;
            }
        }
    }

    private static int checked(int resultOrMinusErrno, String name) {
        if (resultOrMinusErrno < 0) {
            throw new SyscallException(name, -resultOrMinusErrno);
        }
        return resultOrMinusErrno;
    }

    /** Throws {@link #closedError} when this descriptor is closed. */
    protected final void checkOpen(String what) {
        if (closed) {
            throw closedError(what + ": " + getClass().getSimpleName() + " is closed");
        }
    }

    /** The exception a call on a closed descriptor throws; a backend gives its own type. */
    protected RuntimeException closedError(String message) {
        return new IllegalStateException(message);
    }

    protected final boolean isClosed() {
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
