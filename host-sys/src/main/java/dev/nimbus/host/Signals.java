package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few POSIX signal calls a backend needs to interrupt a vCPU thread that sits in the hypervisor's run
 * ioctl: a real-time signal of its own, kept blocked in the vCPU thread (so it never interrupts anything
 * else that thread does) and unblocked by the hypervisor only while the guest runs.
 *
 * <p>Which signal: HotSpot uses SIGSEGV, SIGBUS, SIGFPE, SIGILL (implicit exceptions), SIGUSR2 (thread
 * suspend/resume), SIGQUIT (thread dumps), SIGHUP/SIGINT/SIGTERM (shutdown hooks) and ignores SIGPIPE and
 * SIGXFSZ; the JDK's NIO uses {@code SIGRTMAX - 2} to wake threads blocked in I/O; glibc keeps the two
 * real-time signals below {@code SIGRTMIN} for itself. {@link #vcpuKickSignal()} is therefore
 * {@code SIGRTMIN + 2}, and {@link #installNoOpHandler} refuses it when something else already handles it.
 *
 * <p>The handler installed for it is a single return instruction in an executable page of its own: a
 * signal handler runs in an async-signal context where no Java (no upcall) may run. It has no
 * {@code SA_RESTART}, so a blocking call it interrupts fails with EINTR rather than resuming.
 */
public final class Signals {
    public static final int SIG_BLOCK = 0;
    public static final int SIG_UNBLOCK = 1;
    public static final int SIG_SETMASK = 2;
    private static final int PROT_EXEC = 4;

    /** glibc's {@code sigset_t}: 1024 bits. The kernel's own is the first 64 of them. */
    private static final long SIGSET_SIZE = 128;

    /**
     * glibc's {@code struct sigaction} on x86-64, AArch64 and riscv64 (the generic layout): the handler, the
     * mask, the flags, the restorer. Checked against {@code <signal.h>} by the KVM backend's layout test.
     */
    public static final StructLayout SIGACTION = MemoryLayout.structLayout(
            ADDRESS.withName("sa_handler"),
            MemoryLayout.sequenceLayout(SIGSET_SIZE, ValueLayout.JAVA_BYTE).withName("sa_mask"),
            JAVA_INT.withName("sa_flags"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("sa_restorer")).withName("sigaction");
    private static final long SA_HANDLER = SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_handler"));
    private static final long SA_MASK = SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_mask"));
    private static final long SA_FLAGS = SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_flags"));

    /** Per-thread scratch for a signal set and a zero timespec: the calls on the vCPU path allocate nothing. */
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SIGSET_SIZE * 2 + 16, 16));

    private static final MethodHandle SIGEMPTYSET = downcall("sigemptyset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SIGADDSET = downcall("sigaddset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SIGDELSET = downcall("sigdelset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PTHREAD_SIGMASK = downcall("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGTIMEDWAIT = downcall("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle SIGACTION_CALL = downcall("sigaction",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle TGKILL = downcall("tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle GETTID = downcall("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETPID = downcall("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SIGRTMIN = downcall("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle MPROTECT = downcall("mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private static final Object INSTALL_LOCK = new Object();
    private static MemorySegment noOpHandler;
    private static int installedSignal;

    private Signals() {}

    private static MethodHandle downcall(String name, FunctionDescriptor fd) {
        return Native.downcall(name, fd);
    }

    private static int errno(MemorySegment capture) {
        return Native.errno(capture);
    }

    private static RuntimeException rethrow(Throwable t) {
        return Native.rethrow(t);
    }

    /** The real-time signal that interrupts a vCPU thread in the run ioctl: {@code SIGRTMIN + 2}. */
    public static int vcpuKickSignal() {
        return (int) Native.plain(c -> (int) SIGRTMIN.invokeExact(c)) + 2;
    }

    /**
     * Installs a handler that does nothing for {@code signal} (once per process; later calls for the same
     * signal do nothing), without {@code SA_RESTART}.
     *
     * @throws SyscallException     when sigaction or the handler page fails
     * @throws IllegalStateException when another handler (not the default action) is installed already
     */
    public static void installNoOpHandler(int signal) {
        synchronized (INSTALL_LOCK) {
            if (installedSignal == signal) {
                return;
            }
            try {
                MemorySegment capture = Native.capture();
                Arena arena = Arena.ofAuto();
                MemorySegment old = arena.allocate(SIGACTION);
                if ((int) SIGACTION_CALL.invokeExact(capture, signal, MemorySegment.NULL, old) < 0) {
                    throw new SyscallException("sigaction(" + signal + ")", errno(capture));
                }
                long previous = old.get(ADDRESS, SA_HANDLER).address();
                if (previous != 0 /* SIG_DFL */) {
                    throw new IllegalStateException("signal " + signal + " (SIGRTMIN+2) already has a handler "
                            + "installed by someone else; Nimbus needs it to stop vCPUs");
                }
                if (noOpHandler == null) {
                    noOpHandler = returnStub();
                }
                MemorySegment act = arena.allocate(SIGACTION);
                act.set(ADDRESS, SA_HANDLER, noOpHandler);
                act.set(JAVA_INT, SA_FLAGS, 0);
                if ((int) SIGEMPTYSET.invokeExact(capture, act.asSlice(SA_MASK, SIGSET_SIZE)) < 0) {
                    throw new SyscallException("sigemptyset", errno(capture));
                }
                if ((int) SIGACTION_CALL.invokeExact(capture, signal, act, MemorySegment.NULL) < 0) {
                    throw new SyscallException("sigaction(" + signal + ")", errno(capture));
                }
                installedSignal = signal;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
    }

    /** One page holding a lone return instruction for the host architecture, made read-only and executable. */
    private static MemorySegment returnStub() throws Throwable {
        byte[] ret = switch (System.getProperty("os.arch").toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64" -> new byte[] {(byte) 0xc3};                               // ret
            case "aarch64" -> new byte[] {(byte) 0xc0, 0x03, 0x5f, (byte) 0xd6};              // ret (d65f03c0)
            case "riscv64" -> new byte[] {0x67, (byte) 0x80, 0x00, 0x00};                     // jalr x0, 0(ra)
            default -> throw new IllegalStateException("no signal stub for " + System.getProperty("os.arch"));
        };
        long page = LibC.pageSize();
        MemorySegment p = LibC.mmap(page, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS,
                -1, 0, "mmap(signal handler page)").reinterpret(page);
        MemorySegment.copy(ret, 0, p, ValueLayout.JAVA_BYTE, 0, ret.length);
        MemorySegment capture = Native.capture();
        if ((int) MPROTECT.invokeExact(capture, p, page, LibC.PROT_READ | PROT_EXEC) < 0) {
            throw new SyscallException("mprotect(signal handler page)", errno(capture));
        }
        return p;
    }

    /** Blocks {@code signal} in the calling thread ({@code pthread_sigmask(SIG_BLOCK)}). */
    public static void blockInCurrentThread(int signal) {
        try {
            MemorySegment capture = Native.capture();
            MemorySegment set = SCRATCH.get().asSlice(0, SIGSET_SIZE);
            int r = (int) SIGEMPTYSET.invokeExact(capture, set);
            r |= (int) SIGADDSET.invokeExact(capture, set, signal);
            int e = (int) PTHREAD_SIGMASK.invokeExact(capture, SIG_BLOCK, set, MemorySegment.NULL);
            if (r < 0 || e != 0) {
                throw new SyscallException("pthread_sigmask(SIG_BLOCK, " + signal + ")", e != 0 ? e : errno(capture));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The calling thread's current signal mask with {@code signal} removed, as the kernel's 64-bit set (bit
     * n-1 for signal n): what a hypervisor should use while the guest runs.
     */
    public static long currentMaskWithout(int signal) {
        try {
            MemorySegment capture = Native.capture();
            MemorySegment set = SCRATCH.get().asSlice(0, SIGSET_SIZE);
            int e = (int) PTHREAD_SIGMASK.invokeExact(capture, SIG_BLOCK, MemorySegment.NULL, set);
            if (e != 0) {
                throw new SyscallException("pthread_sigmask", e);
            }
            if ((int) SIGDELSET.invokeExact(capture, set, signal) < 0) {
                throw new SyscallException("sigdelset(" + signal + ")", errno(capture));
            }
            return set.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Takes a pending (blocked) {@code signal} off the calling thread without waiting. Returns whether one
     * was pending.
     */
    public static boolean consumePending(int signal) {
        try {
            MemorySegment capture = Native.capture();
            MemorySegment scratch = SCRATCH.get();
            MemorySegment set = scratch.asSlice(0, SIGSET_SIZE);
            MemorySegment zero = scratch.asSlice(SIGSET_SIZE * 2, 16);
            zero.fill((byte) 0);
            int r = (int) SIGEMPTYSET.invokeExact(capture, set);
            r |= (int) SIGADDSET.invokeExact(capture, set, signal);
            if (r < 0) {
                throw new SyscallException("sigaddset(" + signal + ")", errno(capture));
            }
            while (true) {
                int got = (int) SIGTIMEDWAIT.invokeExact(capture, set, MemorySegment.NULL, zero);
                if (got == signal) {
                    return true;
                }
                int err = errno(capture);
                if (err == Errno.EAGAIN) {
                    return false;
                }
                if (err != Errno.EINTR) {
                    throw new SyscallException("sigtimedwait(" + signal + ")", err);
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The kernel thread id of the calling thread ({@code gettid}). */
    public static int currentThreadId() {
        return (int) Native.plain(c -> (int) GETTID.invokeExact(c));
    }

    /**
     * Sends {@code signal} to thread {@code tid} of this process ({@code tgkill}: a thread of another process
     * that happens to reuse the id is never hit). Returns 0, or the errno (ESRCH: the thread is gone).
     */
    public static int signalThread(int tid, int signal) {
        try {
            MemorySegment capture = Native.capture();
            int pid = (int) GETPID.invokeExact(capture);
            int r = (int) TGKILL.invokeExact(capture, pid, tid, signal);
            return r < 0 ? errno(capture) : 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
