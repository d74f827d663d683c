package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A Linux epoll instance: the wait of a device's worker thread over its eventfds (queue ioeventfds, a stop
 * eventfd). Owns its descriptor. Each registered descriptor carries a {@code long} token the caller
 * chooses, handed back by {@link #token(int)} when it is ready.
 *
 * <p>Threads: {@link #add}/{@link #remove} from any thread; {@link #await} and the accessors of its result
 * from one thread at a time (the loop's), since the ready list is one reused buffer.
 */
public final class Epoll implements AutoCloseable {
    /**
     * {@code struct epoll_event}: {@code uint32_t events; uint64_t data}. The kernel packs it on x86-64
     * (12 bytes, data at 4) and aligns it naturally elsewhere (16 bytes, data at 8).
     */
    public static final StructLayout EVENT = isX86_64()
            ? MemoryLayout.structLayout(ValueLayout.JAVA_INT.withName("events"), ValueLayout.JAVA_LONG_UNALIGNED.withName("data"))
            : MemoryLayout.structLayout(ValueLayout.JAVA_INT.withName("events"), MemoryLayout.paddingLayout(4),
                    ValueLayout.JAVA_LONG.withName("data"));
    private static final VarHandle EVENTS = EVENT.arrayElementVarHandle(MemoryLayout.PathElement.groupElement("events"));
    private static final VarHandle DATA = EVENT.arrayElementVarHandle(MemoryLayout.PathElement.groupElement("data"));

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ready;
    private final int capacity;
    private volatile boolean closed;

    private static boolean isX86_64() {
        String arch = System.getProperty("os.arch");
        return arch.equals("amd64") || arch.equals("x86_64");
    }

    private Epoll(int fd, int capacity) {
        this.fd = fd;
        this.capacity = capacity;
        this.ready = arena.allocate(EVENT, capacity);
    }

    /** A close-on-exec epoll instance reporting up to {@code capacity} ready descriptors per wait. */
    public static Epoll create(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("epoll needs room for at least one event");
        }
        return new Epoll(LibC.epollCreate1(LibC.EPOLL_CLOEXEC), capacity);
    }

    /** Watches {@code fd} for being readable (level-triggered), reporting {@code token}. */
    public void add(int fd, long token) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment event = a.allocate(EVENT);
            EVENTS.set(event, 0L, 0L, LibC.EPOLLIN);
            DATA.set(event, 0L, 0L, token);
            LibC.epollCtl(this.fd, LibC.EPOLL_CTL_ADD, fd, event, "epoll_ctl(EPOLL_CTL_ADD, fd " + fd + ")");
        }
    }

    /** Stops watching {@code fd}. */
    public void remove(int fd) {
        LibC.epollCtl(this.fd, LibC.EPOLL_CTL_DEL, fd, MemorySegment.NULL, "epoll_ctl(EPOLL_CTL_DEL, fd " + fd + ")");
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: for ever) for a watched descriptor to become readable. Returns
     * how many are ready (0 on timeout or when a signal interrupted the wait); read them with {@link #token}.
     */
    public int await(int timeoutMillis) {
        int n = LibC.epollWait(fd, ready, capacity, timeoutMillis);
        if (n == -Errno.EINTR) {
            return 0;
        }
        if (n < 0) {
            throw new SyscallException("epoll_wait", -n);
        }
        return n;
    }

    /** The token of the {@code i}-th ready descriptor of the last {@link #await}. */
    public long token(int i) {
        return (long) DATA.get(ready, 0L, (long) i);
    }

    /** The event bits ({@link LibC#EPOLLIN}, ...) of the {@code i}-th ready descriptor of the last {@link #await}. */
    public int events(int i) {
        return (int) EVENTS.get(ready, 0L, (long) i);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
            arena.close();
        }
    }
}
