package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one way the host layer calls into the C library: every binding ({@link LibC}, {@link Signals}) makes
 * its handles with {@link #downcall}, which always captures {@code errno} (read by the linker right after
 * the call, so no JVM activity in between can clobber it), and runs them through {@link #checked} (a
 * negative result throws {@link SyscallException} naming the call) or {@link #orErrno} (a negative result
 * comes back as minus the errno, for calls where an errno is an expected outcome).
 *
 * <p>The few calls on a hot path (the run ioctl, tap and eventfd reads and writes, epoll_wait) are written
 * out with {@link #capture()} and {@link #errno} instead: a lambda that captures arguments would allocate on
 * every call until the JIT has inlined it.
 */
public final class Native {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** One errno capture buffer per thread: calls on a vCPU thread's hot path allocate nothing. */
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private Native() {}

    /** A downcall to the C library function {@code name}; its handle takes the errno capture segment first. */
    static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    /** The calling thread's errno capture segment. */
    static MemorySegment capture() {
        return CAPTURE.get();
    }

    /** The errno the last call through {@code capture} set. */
    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** What a downcall's {@code Throwable} becomes: runtime exceptions and errors as they are. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** A call through a downcall handle, given the capture segment to pass first. */
    @FunctionalInterface
    interface IntCall {
        int invoke(MemorySegment capture) throws Throwable;
    }

    /** {@link IntCall} for calls that return a {@code long} ({@code ssize_t}). */
    @FunctionalInterface
    interface LongCall {
        long invoke(MemorySegment capture) throws Throwable;
    }

    /** Runs {@code call}; a negative result throws {@link SyscallException} for {@code name} with the errno. */
    static int checked(String name, IntCall call) {
        MemorySegment capture = CAPTURE.get();
        int r;
        try {
            r = call.invoke(capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new SyscallException(name, errno(capture));
        }
        return r;
    }

    /** Runs {@code call}; a negative result comes back as minus the errno. */
    static int orErrno(IntCall call) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = call.invoke(capture);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Runs {@code call} for its result alone (calls that cannot fail). */
    static long plain(LongCall call) {
        try {
            return call.invoke(CAPTURE.get());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
