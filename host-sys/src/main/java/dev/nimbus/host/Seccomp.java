package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * seccomp-BPF (linux/seccomp.h) per thread: the process {@linkplain #enforce enforces} one
 * {@link SeccompFilter} per {@link ThreadKind}, and each thread of that kind {@linkplain #join joins} at its
 * start, which installs the kind's filter on that thread alone (the threads it creates afterwards inherit
 * it). The JVM's own threads and the threads that build machines are not filtered: docs/security.md says
 * which threads are and why.
 *
 * <p>A call outside a thread's filter is reported to this class's monitor thread through a seccomp user
 * notification: the calling thread waits in the kernel while the monitor names the thread and the call. In
 * {@link Mode#ENFORCE} the monitor then writes that line to standard error and the log and ends the process
 * with {@link #EXIT_FORBIDDEN}, without the JVM's cooperation (the offending thread may hold any lock); in
 * {@link Mode#LOG} it logs each kind of call once and lets it run. Where the kernel has no user notification
 * (before 5.0) the filter kills the process ({@code SECCOMP_RET_KILL_PROCESS}) or has the kernel log the call
 * ({@code SECCOMP_RET_LOG}) instead.
 */
public final class Seccomp {
    public static final int SECCOMP_SET_MODE_FILTER = 1;
    public static final int SECCOMP_FILTER_FLAG_LOG = 1 << 1;
    public static final int SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
    public static final int RET_KILL_PROCESS = 0x80000000;
    public static final int RET_ERRNO = 0x00050000;
    public static final int RET_USER_NOTIF = 0x7fc00000;
    public static final int RET_LOG = 0x7ffc0000;
    public static final int RET_ALLOW = 0x7fff0000;
    public static final int RET_DATA = 0x0000ffff;
    public static final int SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
    public static final int PR_GET_SECCOMP = 21;
    public static final int PR_SET_NO_NEW_PRIVS = 38;
    /** {@code struct seccomp_notif}: id, pid, flags, then {@code struct seccomp_data} (64 bytes). */
    public static final long NOTIF_SIZE = 80;
    /** {@code struct seccomp_notif_resp}: id, val, error, flags. */
    public static final long NOTIF_RESP_SIZE = 24;
    public static final long SECCOMP_IOCTL_NOTIF_RECV = Ioctl.iowr('!', 0, NOTIF_SIZE);
    public static final long SECCOMP_IOCTL_NOTIF_SEND = Ioctl.iowr('!', 1, NOTIF_RESP_SIZE);
    /** {@code struct sock_fprog}: {@code unsigned short len}, then the program's address. */
    public static final long SOCK_FPROG_SIZE = 16;
    /** How the process ends when a thread makes a call its filter forbids: as a shell reports death by SIGSYS. */
    public static final int EXIT_FORBIDDEN = 128 + 31;

    /** {@code --seccomp false|log|true}. */
    public enum Mode { OFF, LOG, ENFORCE }

    /** The threads Nimbus filters, each kind with its own list. */
    public enum ThreadKind {
        VCPU("vCPU"), WORKER("virtio worker"), API("REST API");

        private final String description;

        ThreadKind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    private static final System.Logger LOG = System.getLogger(Seccomp.class.getName());
    private static final MethodHandle SYSCALL3_PTR = Native.downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle PRCTL = Native.downcall("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle EXIT_NOW = Native.downcall("_exit", FunctionDescriptor.ofVoid(JAVA_INT));

    private static volatile Enforced enforced;
    /** The kind whose filter the thread has: its own, or its maker's (copied when the Thread was made). */
    private static final InheritableThreadLocal<ThreadKind> KIND = new InheritableThreadLocal<>();

    private Seccomp() {}

    /** What {@link #enforce} set up: the compiled program of each kind, and the monitor. */
    private record Enforced(Mode mode, Map<ThreadKind, SeccompFilter> filters, Map<ThreadKind, MemorySegment> programs,
                            int flags, Monitor monitor, SyscallTable table) {}

    /**
     * From now on, each thread that {@linkplain #join joins} as a kind gets that kind's filter. Compiles every
     * filter and starts the monitor (from the calling thread, which must not be filtered itself). Once only;
     * {@link Mode#OFF} does nothing.
     */
    public static synchronized void enforce(Mode mode, Map<ThreadKind, SeccompFilter> filters) {
        if (enforced != null) {
            throw new IllegalStateException("seccomp filters are already enforced");
        }
        if (mode == Mode.OFF) {
            return;
        }
        if (!filters.keySet().containsAll(Set.of(ThreadKind.values()))) {
            throw new IllegalArgumentException("a filter for each kind of thread is needed, got " + filters.keySet());
        }
        initializeTheJdksIo();
        SyscallTable table = SyscallTable.host();
        boolean notify = userNotificationWorks(table);
        int fallback = mode == Mode.ENFORCE ? RET_KILL_PROCESS : RET_LOG;
        int action = notify ? RET_USER_NOTIF : fallback;
        Map<ThreadKind, MemorySegment> programs = new EnumMap<>(ThreadKind.class);
        Arena arena = Arena.global();
        filters.forEach((kind, f) -> programs.put(kind, fprog(arena, f.compile(table, action))));
        Monitor monitor = notify ? new Monitor(mode, table) : null;
        if (!notify) {
            LOG.log(System.Logger.Level.WARNING, "seccomp: this kernel has no user notification (Linux 5.0); a forbidden "
                    + "call " + (mode == Mode.ENFORCE ? "kills the process unnamed (the audit log names it)" : "is logged by the kernel"));
        }
        int flags = notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : mode == Mode.LOG ? SECCOMP_FILTER_FLAG_LOG : 0;
        enforced = new Enforced(mode, Map.copyOf(filters), programs, flags, monitor, table);
    }

    /**
     * Has this (unfiltered) thread initialize the JDK's I/O classes, whose first use, on whatever thread,
     * probes the host in ways no filter allows: {@code sun.nio.ch.IOUtil} makes an IPv4 socket to learn what
     * the network stack offers, {@code NativeThread} installs a signal handler, {@code sun.nio.ch.Net} makes
     * an IPv6 socket to learn whether IPv6 is there (an API thread serving an inherited socket asks). The
     * sockets made here are closed unbound: nothing is sent.
     */
    private static void initializeTheJdksIo() {
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(java.nio.file.Path.of("/proc/self/comm"));
             java.nio.channels.Selector s = java.nio.channels.Selector.open();
             java.nio.channels.SocketChannel inet = java.nio.channels.SocketChannel.open();
             java.nio.channels.SocketChannel unix = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            f.read(java.nio.ByteBuffer.allocate(16));
            s.selectNow();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot initialize the JDK's I/O before filtering threads", e);
        }
    }

    /** The mode enforced, {@link Mode#OFF} before {@link #enforce} or when it was off. */
    public static Mode mode() {
        Enforced e = enforced;
        return e == null ? Mode.OFF : e.mode();
    }

    /**
     * Installs {@code kind}'s filter on the calling thread, once: cheap afterwards (a thread-local read). A
     * thread made by a thread of the same kind has its filter already (the kernel copies it at the thread's
     * start, and the kind travels in an inheritable thread-local); one made by a thread of another kind would
     * be held to that kind's list too, which is a mistake in Nimbus: it throws, naming both. A filter the
     * process was started under (a container's) is not counted: Nimbus's goes on top of it.
     */
    public static void join(ThreadKind kind) {
        Enforced e = enforced;
        ThreadKind current = KIND.get();
        if (e == null || current == kind) {
            return;
        }
        if (current != null) {
            throw new IllegalStateException("a " + kind.description() + " thread ('" + Thread.currentThread().getName()
                    + "') was made by a " + current.description() + " thread and inherited its seccomp filter");
        }
        KIND.set(kind);
        Native.checked("prctl(PR_SET_NO_NEW_PRIVS)", c -> (int) PRCTL.invokeExact(c, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L));
        MemorySegment prog = e.programs().get(kind);
        long nr = e.table().number("seccomp").orElseThrow();
        long r = Native.plain(c -> (long) SYSCALL3_PTR.invokeExact(c, nr, (long) SECCOMP_SET_MODE_FILTER, (long) e.flags(), prog));
        if (r < 0) {
            throw new SyscallException("seccomp(SECCOMP_SET_MODE_FILTER) for a " + kind.description() + " thread",
                    Native.errno(Native.capture()));
        }
        if (e.monitor() != null) {
            // until the listener is in the monitor's epoll, a forbidden call here would wait for an answer no one
            // gives: what runs in between (a map insert, epoll_ctl) makes only calls every filter allows
            e.monitor().watch((int) r, kind, Thread.currentThread().getName());
        }
        if (kind.name().equalsIgnoreCase(System.getProperty(TEST_HOOK, ""))) {
            callSomethingForbidden();
        }
    }

    /**
     * A test hook: {@code -Dnimbus.test.forbiddenCallOn=vcpu} (or {@code worker}, {@code api}) makes the first
     * thread of that kind {@linkplain #callSomethingForbidden call something forbidden} right after it joined.
     */
    public static final String TEST_HOOK = "nimbus.test.forbiddenCallOn";

    /** {@code prctl(PR_GET_SECCOMP)} for the calling thread: 0 unfiltered, 2 filtered. */
    public static int threadFilterMode() {
        return Native.checked("prctl(PR_GET_SECCOMP)", c -> (int) PRCTL.invokeExact(c, PR_GET_SECCOMP, 0L, 0L, 0L, 0L));
    }

    /**
     * A test hook: makes a call that no filter of Nimbus's allows ({@code socket(AF_INET, SOCK_DGRAM)}, a UDP
     * socket that is closed again unused where it is allowed).
     */
    public static void callSomethingForbidden() {
        try {
            LibC.close(LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0, "socket(AF_INET)"));
        } catch (SyscallException refused) {
            // refused (not reported) is an answer too
        }
    }

    /** A {@code struct sock_fprog} in {@code arena} for the program {@code code}, its instructions beside it. */
    private static MemorySegment fprog(Arena arena, byte[] code) {
        MemorySegment insns = arena.allocate(code.length, 8);
        insns.copyFrom(MemorySegment.ofArray(code));
        MemorySegment fprog = arena.allocate(SOCK_FPROG_SIZE, 8);
        fprog.set(JAVA_SHORT, 0, (short) (code.length / 8));
        fprog.set(ADDRESS, 8, insns);
        return fprog;
    }

    /**
     * Whether a filter may ask for a listener: a probe thread installs an allow-all filter with
     * {@code SECCOMP_FILTER_FLAG_NEW_LISTENER} and ends.
     */
    private static boolean userNotificationWorks(SyscallTable table) {
        byte[] code = SeccompFilter.builder("probe").build().compile(table, RET_ALLOW);
        long[] result = new long[1];
        Thread probe = Thread.ofPlatform().name("seccomp-probe").unstarted(() -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment fprog = fprog(a, code);
                Native.checked("prctl(PR_SET_NO_NEW_PRIVS)", c -> (int) PRCTL.invokeExact(c, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L));
                long nr = table.number("seccomp").orElseThrow();
                result[0] = Native.plain(c -> (long) SYSCALL3_PTR.invokeExact(c, nr, (long) SECCOMP_SET_MODE_FILTER,
                        (long) SECCOMP_FILTER_FLAG_NEW_LISTENER, fprog));
                if (result[0] >= 0) {
                    LibC.close((int) result[0]);
                }
            }
        });
        probe.start();
        try {
            probe.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return result[0] >= 0;
    }

    /**
     * The thread that hears of forbidden calls: one epoll over every filter's listener. It is made by the
     * thread that enforces, before any filter exists, so nothing filters it.
     */
    private static final class Monitor {
        private final Mode mode;
        private final SyscallTable table;
        private final Epoll epoll = Epoll.create(16);
        private final Map<Integer, String> listeners = new ConcurrentHashMap<>();
        private final Set<String> logged = ConcurrentHashMap.newKeySet();
        private final MemorySegment notif = Arena.global().allocate(NOTIF_SIZE, 8);
        private final MemorySegment resp = Arena.global().allocate(NOTIF_RESP_SIZE, 8);

        Monitor(Mode mode, SyscallTable table) {
            this.mode = mode;
            this.table = table;
            // Everything the monitor runs is loaded and initialized now, by this thread: a thread stopped at a
            // forbidden call may be inside a class's initialization (a first FileChannel loads libnio), and a
            // monitor that needed that class would wait for it for ever.
            describe("warm-up", (int) ProcessHandle.current().pid(), 0, new long[6]);
            end(null);
            Thread.ofPlatform().name("seccomp-monitor").daemon(true).start(this::run);
        }

        void watch(int listener, ThreadKind kind, String threadName) {
            listeners.put(listener, kind.description() + " thread '" + threadName + "'");
            epoll.add(listener, listener);
        }

        private void run() {
            while (true) {
                int n = epoll.await(-1);
                for (int i = 0; i < n; i++) {
                    int fd = (int) epoll.token(i);
                    if ((epoll.events(i) & LibC.EPOLLIN) != 0) {
                        answer(fd);
                    } else {
                        // EPOLLHUP: every thread under that filter has ended
                        epoll.remove(fd);
                        LibC.close(fd);
                        listeners.remove(fd);
                    }
                }
            }
        }

        private void answer(int fd) {
            notif.fill((byte) 0);
            if (LibC.ioctlErrno(fd, SECCOMP_IOCTL_NOTIF_RECV, notif) < 0) {
                return; // ENOENT: the thread went away before it was heard
            }
            long id = notif.get(JAVA_LONG, 0);
            int tid = notif.get(JAVA_INT, 8);
            int nr = notif.get(JAVA_INT, 16);
            long[] args = new long[6];
            for (int i = 0; i < 6; i++) {
                args[i] = notif.get(JAVA_LONG, 32 + 8L * i);
            }
            String what = describe(listeners.getOrDefault(fd, "thread"), tid, nr, args);
            if (mode == Mode.ENFORCE) {
                end("seccomp: " + what + ", which its filter forbids; ending the VMM (exit " + EXIT_FORBIDDEN + ")");
            }
            String name = table.name(nr);
            String key = listeners.getOrDefault(fd, "") + nr + (name.equals("ioctl") ? "/" + (args[1] & 0xffff_ffffL)
                    : name.equals("prctl") ? "/" + args[0] : "");
            // the thread goes on first: it may hold the log's lock (a call made while it logged)
            resp.fill((byte) 0);
            resp.set(JAVA_LONG, 0, id);
            resp.set(JAVA_INT, 20, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
            LibC.ioctlErrno(fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
            if (logged.add(key)) {
                LOG.log(System.Logger.Level.WARNING, "seccomp (log): " + what + ", which its filter does not allow; allowed in log mode");
            }
        }

        /** "the vCPU thread 'vcpu-0' (tid 12, now 'vcpu-0') made the system call socket (41, arguments 0x2, ...)". */
        private String describe(String thread, int tid, int nr, long[] args) {
            return "the " + thread + " (tid " + tid + ", now '" + comm(tid) + "') made the system call " + table.name(nr)
                    + " (" + nr + ", arguments 0x" + Long.toHexString(args[0]) + ", 0x" + Long.toHexString(args[1]) + ", 0x"
                    + Long.toHexString(args[2]) + ")";
        }

        /**
         * Writes {@code line} to standard error straight through write(2), then to the log from a thread
         * that may wait at most a second for the log's lock (the offending thread may hold it), then ends
         * the process through _exit(2): no shutdown hooks, no safepoint the stopped thread could block.
         */
        private static void end(String line) {
            if (line == null) {
                // the warm-up: load what ending takes, end nothing
                Thread.ofPlatform().unstarted(() -> { });
                TimeUnit.SECONDS.toMillis(1);
                return;
            }
            byte[] bytes = ("nimbus: " + line + "\n").getBytes(StandardCharsets.UTF_8);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(bytes.length);
                buf.copyFrom(MemorySegment.ofArray(bytes));
                LibC.write(2, buf, bytes.length);
            } catch (RuntimeException ignored) {
                // standard error is gone: the log below may still hold the line
            }
            Thread logger = Thread.ofPlatform().daemon(true).start(() -> LOG.log(System.Logger.Level.ERROR, line));
            try {
                logger.join(TimeUnit.SECONDS.toMillis(1));
            } catch (InterruptedException ignored) {
                // ending anyway
            }
            try {
                EXIT_NOW.invokeExact(Native.capture(), EXIT_FORBIDDEN);
            } catch (Throwable t) {
                Runtime.getRuntime().halt(EXIT_FORBIDDEN);
            }
        }

        /** The kernel's name of thread {@code tid}, read with the monitor's own calls (no JDK file classes). */
        private static String comm(int tid) {
            int fd = LibC.openErrno("/proc/self/task/" + tid + "/comm", LibC.O_RDONLY | LibC.O_CLOEXEC);
            if (fd < 0) {
                return "?";
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(64);
                long n = LibC.read(fd, buf, 64);
                return n <= 0 ? "?" : new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8).strip();
            } finally {
                LibC.close(fd);
            }
        }
    }
}
