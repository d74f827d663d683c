package dev.nimbus.host;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The compiled programs, run by a classic-BPF interpreter of the test's own over {@code struct seccomp_data}:
 * for every call of each architecture's table and arguments at and around each rule's values, the program
 * answers what {@link SeccompFilter#allows} says, another architecture's calls are killed, and a call that
 * is made to fail gets its errno.
 */
class SeccompFilterTest {
    private static final int DEFAULT = Seccomp.RET_USER_NOTIF;

    private static final SeccompFilter FILTER = SeccompFilter.builder("test").include(SeccompFilter.javaThread())
            .allowIoctls(Set.of(0xae80L, 0xc008aeabL, 0x4004ae8bL)).allow("fallocate").build();

    @Test
    void everyCallOfEveryArchitectureGetsWhatTheRulesSay() {
        for (String arch : new String[] {"x86_64", "aarch64", "riscv64"}) {
            SyscallTable table = SyscallTable.of(arch);
            byte[] prog = FILTER.compile(table, DEFAULT);
            for (Map.Entry<String, Integer> call : table.all().entrySet()) {
                for (long[] args : argumentsToTry(call.getKey())) {
                    int expected = FILTER.rules().get(call.getKey()) instanceof SeccompFilter.Rule.Fails f
                            ? Seccomp.RET_ERRNO | f.errno()
                            : FILTER.allows(call.getKey(), args) ? Seccomp.RET_ALLOW : DEFAULT;
                    assertThat(run(prog, call.getValue(), table.auditArch(), args))
                            .as("%s %s(%s)", arch, call.getKey(), java.util.Arrays.toString(args)).isEqualTo(expected);
                }
            }
        }
    }

    @Test
    void theRulesAreTheOnesMeant() {
        assertThat(FILTER.allows("futex")).isTrue();
        assertThat(FILTER.allows("execve")).isFalse();
        assertThat(FILTER.allows("socket")).isFalse();
        assertThat(FILTER.allows("ptrace")).isFalse();
        assertThat(FILTER.allows("ioctl", 5, 0xae80L)).isTrue();
        assertThat(FILTER.allows("ioctl", 5, 0x400454caL)).as("TUNSETIFF").isFalse();
        assertThat(FILTER.allows("clone", 0x3d0f00L)).as("pthread_create's flags").isTrue();
        assertThat(FILTER.allows("clone", 0x4111L)).as("vfork's flags (CLONE_VM|CLONE_VFORK|SIGCHLD)").isFalse();
        assertThat(FILTER.allows("tgkill", ProcessHandle.current().pid(), 7, 10)).isTrue();
        assertThat(FILTER.allows("tgkill", 1, 1, 9)).as("another process's thread").isFalse();
    }

    @Test
    void riscv64sJitMayFlushTheInstructionCache() {
        SyscallTable riscv = SyscallTable.of("riscv64");
        int flush = riscv.number("riscv_flush_icache").orElseThrow();
        assertThat(run(FILTER.compile(riscv, DEFAULT), flush, riscv.auditArch(), new long[6])).isEqualTo(Seccomp.RET_ALLOW);
    }

    @Test
    void anotherArchitecturesCallsAreKilled() {
        SyscallTable x86 = SyscallTable.of("x86_64");
        byte[] prog = FILTER.compile(x86, DEFAULT);
        int read = x86.number("read").orElseThrow();
        assertThat(run(prog, read, x86.auditArch(), new long[6])).isEqualTo(Seccomp.RET_ALLOW);
        assertThat(run(prog, read, 0x40000003 /* AUDIT_ARCH_I386 */, new long[6])).isEqualTo(Seccomp.RET_KILL_PROCESS);
        assertThat(run(prog, read, SyscallTable.AUDIT_ARCH_AARCH64, new long[6])).isEqualTo(Seccomp.RET_KILL_PROCESS);
        // x32 calls carry bit 30 in the number: no rule matches them
        assertThat(run(prog, read | 0x40000000, x86.auditArch(), new long[6])).isEqualTo(DEFAULT);
    }

    @Test
    void tooManyValuesForOneJumpAreRefused() {
        java.util.Set<Long> many = new java.util.HashSet<>();
        for (long i = 0; i < 251; i++) {
            many.add(i);
        }
        assertThatThrownBy(() -> SeccompFilter.builder("x").allowIoctls(many)).isInstanceOf(IllegalArgumentException.class);
    }

    /** No arguments, each rule's values, and each value's neighbours and high-word variants. */
    private static java.util.List<long[]> argumentsToTry(String call) {
        java.util.List<long[]> tries = new java.util.ArrayList<>();
        tries.add(new long[6]);
        SeccompFilter.Rule r = FILTER.rules().get(call);
        if (r instanceof SeccompFilter.Rule.ArgIn in) {
            for (long v : in.values()) {
                for (long w : new long[] {v, v + 1, v - 1, v | 0x1_0000_0000L}) {
                    long[] a = new long[6];
                    a[in.arg()] = w;
                    tries.add(a);
                }
            }
        } else if (r instanceof SeccompFilter.Rule.ArgHasBits b) {
            for (long w : new long[] {b.bits(), ~b.bits(), 0x3d0f00L, 0x4111L}) {
                long[] a = new long[6];
                a[b.arg()] = w;
                tries.add(a);
            }
        }
        return tries;
    }

    /** A classic-BPF interpreter for the instructions the compiler emits, over one {@code struct seccomp_data}. */
    static int run(byte[] program, int nr, int arch, long[] args) {
        ByteBuffer data = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        data.putInt(0, nr).putInt(4, arch).putLong(8, 0x1000);
        for (int i = 0; i < 6; i++) {
            data.putLong(16 + 8 * i, args[i]);
        }
        ByteBuffer p = ByteBuffer.wrap(program).order(ByteOrder.nativeOrder());
        int acc = 0;
        int pc = 0;
        for (int steps = 0; steps < 10_000; steps++) {
            int at = pc * 8;
            int code = p.getShort(at) & 0xffff;
            int jt = p.get(at + 2) & 0xff;
            int jf = p.get(at + 3) & 0xff;
            int k = p.getInt(at + 4);
            pc++;
            switch (code) {
                case SeccompFilter.LD_W_ABS -> acc = data.getInt(k);
                case SeccompFilter.JEQ_K -> pc += acc == k ? jt : jf;
                case SeccompFilter.AND_K -> acc &= k;
                case SeccompFilter.RET_K -> {
                    return k;
                }
                default -> throw new AssertionError("unexpected BPF code 0x" + Integer.toHexString(code));
            }
        }
        throw new AssertionError("the program did not return");
    }
}
