package dev.nimbus.host;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * What one kind of thread may call: system calls by name, some only with certain arguments. {@link #compile}
 * makes the classic-BPF program the kernel runs on each call ({@code struct sock_filter}, checked against
 * {@code struct seccomp_data}): a call from another architecture's ABI kills the process, an allowed call
 * runs, anything else gets the default action the caller chooses (report it, kill, log).
 *
 * <p>Argument rules compare the low 32 bits of one argument, which is all the kernel reads of an
 * {@code ioctl} request or a {@code prctl} option ({@code unsigned int}, {@code int}).
 */
public final class SeccompFilter {
    // struct seccomp_data (linux/seccomp.h): int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
    static final int DATA_NR = 0;
    static final int DATA_ARCH = 4;
    static final int DATA_ARGS = 16;

    // classic BPF (linux/bpf_common.h, linux/filter.h)
    static final short LD_W_ABS = 0x20;   // BPF_LD | BPF_W | BPF_ABS
    static final short JEQ_K = 0x15;      // BPF_JMP | BPF_JEQ | BPF_K
    static final short AND_K = 0x54;      // BPF_ALU | BPF_AND | BPF_K
    static final short RET_K = 0x06;      // BPF_RET | BPF_K
    /** The kernel's limit on a program's length ({@code BPF_MAXINSNS}). */
    static final int MAX_INSNS = 4096;

    /** What a call must satisfy beyond its number. */
    public sealed interface Rule {
        /** Allowed whatever its arguments. */
        record Always() implements Rule {}

        /** Allowed when the low 32 bits of argument {@code arg} (0-5) are one of {@code values}. */
        record ArgIn(int arg, Set<Long> values) implements Rule {
            public ArgIn {
                values = Collections.unmodifiableSet(new TreeSet<>(values));
                if (arg < 0 || arg > 5 || values.isEmpty() || values.size() > 250) {
                    throw new IllegalArgumentException("argument " + arg + " with " + values.size() + " values");
                }
            }
        }

        /** Allowed when argument {@code arg} has every bit of {@code bits} (all in its low 32) set. */
        record ArgHasBits(int arg, long bits) implements Rule {}

        /** Never runs: fails with {@code errno} and is not reported (how {@code clone3} becomes {@code clone}). */
        record Fails(int errno) implements Rule {}
    }

    /** {@code CLONE_THREAD}: a {@code clone} that makes a thread of this process, not a new process. */
    public static final long CLONE_THREAD = 0x10000;
    /** prctl options a Java thread makes: PR_SET_NAME, PR_GET_NAME, PR_GET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_SET_VMA. */
    public static final Set<Long> JAVA_THREAD_PRCTLS = Set.of(15L, 16L, 21L, 38L, 0x53564d41L);
    /** ioctl requests any thread may make on its own descriptors: TCGETS (isatty), FIONREAD, FIONBIO, FIOCLEX. */
    public static final Set<Long> HARMLESS_IOCTLS = Set.of(0x5401L, 0x541bL, 0x5421L, 0x5451L);

    /**
     * What any Java thread on Linux may call, whatever it runs: the JVM maps memory, waits on futexes, takes
     * signals (implicit null checks, the vCPU kick) and sends them to its own threads, reads clocks, starts and ends threads (a {@code clone}
     * of this process only: {@code clone3}, whose flags a filter cannot read, fails as "not implemented" and
     * glibc falls back to {@code clone}), loads classes and native libraries the first time a thread needs
     * them (open, read, map), and writes the log (rotating its file). Landlock, not seccomp, bounds which
     * files. Left out: making processes, other processes' memory, sockets, mounts, namespaces, privileges,
     * kernel modules, BPF, keyrings.
     */
    public static SeccompFilter javaThread() {
        return builder("Java thread")
                // memory
                .allow("mmap", "munmap", "mprotect", "madvise", "mremap", "brk")
                // code: on riscv64 the JIT asks the kernel to make patched code visible to the instruction fetch of
                // every hart (found in the riscv64 L1: a vCPU thread stopped in it; other arches have no such call)
                .allow("riscv_flush_icache")
                // synchronization, scheduling, time
                .allow("futex", "sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep", "clock_gettime",
                        "clock_getres", "gettimeofday", "time", "restart_syscall")
                // signals
                .allow("rt_sigreturn", "rt_sigprocmask", "sigaltstack")
                // signals to this process's own threads only (a vCPU that stops the VM kicks the others)
                .allowArg("tgkill", 0, Set.of(ProcessHandle.current().pid()))
                // threads: start (in the new thread: its robust list and rseq area), names, the end
                .allowWithBits("clone", 0, CLONE_THREAD).fail("clone3", Errno.ENOSYS)
                .allow("set_robust_list", "rseq", "gettid", "getpid", "exit", "exit_group")
                .allowArg("prctl", 0, JAVA_THREAD_PRCTLS)
                // Landlock: a thread joins the file sandbox; a configuration check asks for the ABI
                .allow("landlock_restrict_self", "landlock_create_ruleset")
                // what the JVM asks of the system now and then
                .allow("getrusage", "sysinfo", "uname", "getuid", "geteuid", "getgid", "getegid", "getcwd", "getrandom")
                // files: class loading, the log and its rotation, the descriptors a thread was handed
                .allow("read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "lseek", "close",
                        "fstat", "newfstatat", "stat", "lstat", "statx", "open", "openat", "fcntl", "dup", "readlink",
                        "readlinkat", "access", "faccessat", "faccessat2", "fsync", "fdatasync", "rename", "renameat",
                        "renameat2", "unlink", "unlinkat")
                // waiting on descriptors (the JDK's selectors wake through an eventfd)
                .allow("epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll", "eventfd2")
                .allowIoctls(HARMLESS_IOCTLS)
                .build();
    }

    private final String name;
    private final Map<String, Rule> rules;

    private SeccompFilter(String name, Map<String, Rule> rules) {
        this.name = name;
        this.rules = Collections.unmodifiableMap(rules);
    }

    /** A filter under construction, for the threads {@code name} describes (in messages). */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    public String name() {
        return name;
    }

    /** The rule for each call it names. */
    public Map<String, Rule> rules() {
        return rules;
    }

    /** Whether the call {@code syscall} with these arguments' low words passes (the program's logic, in Java). */
    public boolean allows(String syscall, long... args) {
        Rule r = rules.get(syscall);
        return switch (r) {
            case null -> false;
            case Rule.Always a -> true;
            case Rule.ArgIn in -> in.values().contains(args[in.arg()] & 0xffff_ffffL);
            case Rule.ArgHasBits b -> (args[b.arg()] & b.bits()) == b.bits();
            case Rule.Fails f -> false;
        };
    }

    /**
     * The BPF program for {@code table}'s architecture, as the bytes of its {@code struct sock_filter}
     * array: a call this filter does not allow returns {@code defaultAction}. Calls the architecture does
     * not have are left out.
     */
    public byte[] compile(SyscallTable table, int defaultAction) {
        List<long[]> prog = new ArrayList<>(); // {code, jt, jf, k}
        prog.add(insn(LD_W_ABS, 0, 0, DATA_ARCH));
        prog.add(insn(JEQ_K, 1, 0, table.auditArch()));
        prog.add(insn(RET_K, 0, 0, Seccomp.RET_KILL_PROCESS));
        prog.add(insn(LD_W_ABS, 0, 0, DATA_NR));
        // the plainest rules first: the kernel caches a call whose answer never depends on its arguments, but
        // a linear program is still walked on each call the cache does not hold
        List<Map.Entry<String, Rule>> ordered = new ArrayList<>(rules.entrySet());
        ordered.sort((a, b) -> Boolean.compare(!(a.getValue() instanceof Rule.Always), !(b.getValue() instanceof Rule.Always)));
        for (Map.Entry<String, Rule> e : ordered) {
            OptionalInt nr = table.number(e.getKey());
            if (nr.isEmpty()) {
                continue;
            }
            int n = nr.getAsInt();
            switch (e.getValue()) {
                case Rule.Always a -> {
                    prog.add(insn(JEQ_K, 0, 1, n));
                    prog.add(insn(RET_K, 0, 0, Seccomp.RET_ALLOW));
                }
                case Rule.Fails f -> {
                    prog.add(insn(JEQ_K, 0, 1, n));
                    prog.add(insn(RET_K, 0, 0, Seccomp.RET_ERRNO | (f.errno() & Seccomp.RET_DATA)));
                }
                case Rule.ArgIn in -> {
                    // jeq nr; ld arg; jeq v1 .. vk (each to ALLOW); ret default; ret allow
                    int k = in.values().size();
                    prog.add(insn(JEQ_K, 0, k + 3, n));
                    prog.add(insn(LD_W_ABS, 0, 0, DATA_ARGS + 8 * in.arg()));
                    int j = 0;
                    for (long v : in.values()) {
                        prog.add(insn(JEQ_K, k - j, 0, v));
                        j++;
                    }
                    prog.add(insn(RET_K, 0, 0, defaultAction));
                    prog.add(insn(RET_K, 0, 0, Seccomp.RET_ALLOW));
                }
                case Rule.ArgHasBits b -> {
                    prog.add(insn(JEQ_K, 0, 5, n));
                    prog.add(insn(LD_W_ABS, 0, 0, DATA_ARGS + 8 * b.arg()));
                    prog.add(insn(AND_K, 0, 0, b.bits()));
                    prog.add(insn(JEQ_K, 1, 0, b.bits()));
                    prog.add(insn(RET_K, 0, 0, defaultAction));
                    prog.add(insn(RET_K, 0, 0, Seccomp.RET_ALLOW));
                }
            }
        }
        prog.add(insn(RET_K, 0, 0, defaultAction));
        if (prog.size() > MAX_INSNS) {
            throw new IllegalStateException("the " + name + " filter needs " + prog.size() + " instructions, over the kernel's "
                    + MAX_INSNS);
        }
        ByteBuffer b = ByteBuffer.allocate(prog.size() * 8).order(ByteOrder.nativeOrder());
        for (long[] i : prog) {
            b.putShort((short) i[0]).put((byte) i[1]).put((byte) i[2]).putInt((int) i[3]);
        }
        return b.array();
    }

    private static long[] insn(short code, int jt, int jf, long k) {
        if (jt > 255 || jf > 255) {
            throw new IllegalStateException("a jump of " + Math.max(jt, jf) + " instructions does not fit in BPF");
        }
        return new long[] {code, jt, jf, k & 0xffff_ffffL};
    }

    /** Builds a {@link SeccompFilter}; a later rule for a call replaces an earlier one, except that {@link #allowIoctls} and {@link #allowArg} add values. */
    public static final class Builder {
        private final String name;
        private final Map<String, Rule> rules = new LinkedHashMap<>();

        private Builder(String name) {
            this.name = name;
        }

        /** Allows each call whatever its arguments. */
        public Builder allow(String... syscalls) {
            for (String s : syscalls) {
                rules.put(s, new Rule.Always());
            }
            return this;
        }

        /** Allows {@code syscall} when argument {@code arg} is one of {@code values} (added to any values already allowed). */
        public Builder allowArg(String syscall, int arg, Set<Long> values) {
            Set<Long> all = new TreeSet<>(values);
            if (rules.get(syscall) instanceof Rule.ArgIn in && in.arg() == arg) {
                all.addAll(in.values());
            }
            rules.put(syscall, new Rule.ArgIn(arg, all));
            return this;
        }

        /** Allows {@code ioctl} with these requests (on any descriptor). */
        public Builder allowIoctls(Set<Long> requests) {
            return allowArg("ioctl", 1, requests);
        }

        /** Allows {@code syscall} when argument {@code arg} has all of {@code bits}. */
        public Builder allowWithBits(String syscall, int arg, long bits) {
            rules.put(syscall, new Rule.ArgHasBits(arg, bits));
            return this;
        }

        /** Makes {@code syscall} fail with {@code errno} without reporting it. */
        public Builder fail(String syscall, int errno) {
            rules.put(syscall, new Rule.Fails(errno));
            return this;
        }

        /** Everything {@code other} allows, too. */
        public Builder include(SeccompFilter other) {
            other.rules.forEach((s, r) -> {
                if (r instanceof Rule.ArgIn in) {
                    allowArg(s, in.arg(), in.values());
                } else {
                    rules.put(s, r);
                }
            });
            return this;
        }

        public SeccompFilter build() {
            return new SeccompFilter(name, new LinkedHashMap<>(rules));
        }
    }
}
