package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A Linux eventfd: the doorbell between a device and the hypervisor (ioeventfd, irqfd) and between
 * threads. Owns its descriptor. {@link #signal()} and {@link #read()} may be called from any thread.
 */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private volatile boolean closed;

    private EventFd(int fd) {
        this.fd = fd;
    }

    /** A blocking eventfd (close-on-exec). */
    public static EventFd create() {
        return new EventFd(LibC.eventfd(0, LibC.EFD_CLOEXEC));
    }

    /** A non-blocking eventfd (close-on-exec), for epoll loops. */
    public static EventFd createNonBlocking() {
        return new EventFd(LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK));
    }

    /** The raw descriptor, for registering with the hypervisor or epoll. */
    public int fd() {
        return fd;
    }

    /** Adds 1 to the counter, waking a reader. */
    public void signal() {
        write(1);
    }

    /** Adds {@code value} to the counter. */
    public void write(long value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            buf.set(ValueLayout.JAVA_LONG, 0, value);
            long n = LibC.write(fd, buf, 8);
            if (n < 0) {
                throw new SyscallException("write(eventfd)", (int) -n);
            }
        }
    }

    /**
     * Reads and resets the counter. Blocks on a blocking eventfd while it is zero; on a non-blocking one
     * returns 0 when nothing was signalled.
     */
    public long read() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            long n = LibC.read(fd, buf, 8);
            if (n == -Errno.EAGAIN) {
                return 0;
            }
            if (n < 0) {
                throw new SyscallException("read(eventfd)", (int) -n);
            }
            return buf.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
        }
    }
}
