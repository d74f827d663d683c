package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A pseudo-terminal for a guest console ({@code --serial pty}, {@code "mode": "Pty"}): the VMM holds the
 * master, a user attaches a terminal program to the slave ({@code screen /dev/pts/3}, libvirt's
 * {@code virsh console}). The pair is in raw mode (bytes pass unchanged both ways). The VMM also holds the
 * slave open itself, so the master neither reports a hang-up nor loses the guest's output while no one is
 * attached; the master is non-blocking, so a guest writing to a pty no one reads never waits: once the
 * terminal's buffer is full, its output is dropped ({@link #write} says how much went).
 */
public final class Pty implements AutoCloseable {
    private static final int O_NOCTTY = 0x100;
    private static final int TCSANOW = 0;
    /** {@code struct termios} is 60 bytes with glibc on the hosts Nimbus runs on; room to spare. */
    private static final long TERMIOS_BYTES = 256;

    private static final MethodHandle POSIX_OPENPT = Native.downcall("posix_openpt", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle GRANTPT = Native.downcall("grantpt", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle UNLOCKPT = Native.downcall("unlockpt", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PTSNAME_R = Native.downcall("ptsname_r",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle TCGETATTR = Native.downcall("tcgetattr", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle TCSETATTR = Native.downcall("tcsetattr",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle CFMAKERAW = Native.downcall("cfmakeraw", FunctionDescriptor.ofVoid(ADDRESS));

    private final int master;
    private final int slave;
    private final Path slavePath;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(4096);
    private boolean closed;

    private Pty(int master, int slave, Path slavePath) {
        this.master = master;
        this.slave = slave;
        this.slavePath = slavePath;
    }

    /** A new pseudo-terminal pair, raw, its master non-blocking and close-on-exec. */
    public static Pty open() {
        int master = Native.checked("posix_openpt", c -> (int) POSIX_OPENPT.invokeExact(c,
                LibC.O_RDWR | O_NOCTTY | LibC.O_NONBLOCK | LibC.O_CLOEXEC));
        try (Arena a = Arena.ofConfined()) {
            Native.checked("grantpt", c -> (int) GRANTPT.invokeExact(c, master));
            Native.checked("unlockpt", c -> (int) UNLOCKPT.invokeExact(c, master));
            MemorySegment name = a.allocate(128);
            // ptsname_r returns the error number itself, not -1 with errno
            int err = (int) Native.plain(c -> (int) PTSNAME_R.invokeExact(c, master, name, 128L));
            if (err != 0) {
                throw new SyscallException("ptsname_r", err);
            }
            MemorySegment termios = a.allocate(TERMIOS_BYTES);
            Native.checked("tcgetattr(pty)", c -> (int) TCGETATTR.invokeExact(c, master, termios));
            Native.plain(c -> {
                CFMAKERAW.invokeExact(c, termios);
                return 0L;
            });
            Native.checked("tcsetattr(pty)", c -> (int) TCSETATTR.invokeExact(c, master, TCSANOW, termios));
            Path path = Path.of(name.getString(0));
            int slave = LibC.open(path.toString(), LibC.O_RDWR | O_NOCTTY | LibC.O_CLOEXEC, 0);
            return new Pty(master, slave, path);
        } catch (RuntimeException e) {
            LibC.close(master);
            throw e;
        }
    }

    /** The slave's path, which a user opens: {@code /dev/pts/3}. */
    public Path path() {
        return slavePath;
    }

    /** The master's descriptor, to wait on for input ({@link Epoll}). */
    public int masterFd() {
        return master;
    }

    /**
     * Reads what the user typed into {@code buf}; returns the bytes read, 0 when there is nothing now (the
     * master is non-blocking: wait for it with {@link Epoll}), or -1 once the pty is closed.
     */
    public synchronized int read(byte[] buf, int off, int len) {
        if (closed) {
            return -1;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, len));
            long n = LibC.read(master, seg, len);
            if (n == -Errno.EAGAIN || n == -Errno.EINTR) {
                return 0;
            }
            if (n < 0) {
                throw new SyscallException("read(pty " + slavePath + ")", (int) -n);
            }
            MemorySegment.copy(seg, JAVA_BYTE, 0, buf, off, (int) n);
            return (int) n;
        }
    }

    /**
     * Writes the guest's output to the terminal; returns the bytes that went. Never waits: what a full
     * terminal buffer has no room for is left out (a pty no one reads must not stop the guest).
     */
    public synchronized int write(byte[] buf, int off, int len) {
        if (closed) {
            return 0;
        }
        int done = 0;
        while (done < len) {
            int chunk = (int) Math.min(len - done, out.byteSize());
            MemorySegment.copy(buf, off + done, out, JAVA_BYTE, 0, chunk);
            long n = LibC.write(master, out, chunk);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                break; // EAGAIN: full; EIO and the like: nothing more will go either
            }
            done += (int) n;
        }
        return done;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.close(slave);
            LibC.close(master);
            arena.close();
        }
    }
}
