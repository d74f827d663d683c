package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.hypervisor.x86.InstructionEmulator;
import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code movs} and {@code stos} against the CPU this test runs on, as {@link AluDifferentialTest} does the ALU:
 * a C program compiled with gcc executes each of them at 8, 16, 32 and 64 bits, with and without {@code rep},
 * with RFLAGS.DF clear and set, for counts 0, 1 and 3 (inline assembly on two 64-byte buffers, starting in
 * their middle), and prints where RSI, RDI and RCX ended and the destination buffer's bytes. The emulator,
 * given the same bytes and registers over a guest whose memory is those two buffers, must end the same.
 * Needs an x86-64 gcc; skipped elsewhere.
 */
class StringDifferentialTest {
    private static final String PROGRAM = """
            #include <stdint.h>
            #include <stdio.h>
            #include <string.h>
            #define DEF(name, insn) \\
            static void name(uint64_t df, uint64_t a, uint64_t *si, uint64_t *di, uint64_t *cx) { \\
              uint64_t s = *si, d = *di, c = *cx; \\
              __asm__ volatile("testq %[df], %[df]\\n\\tjz 1f\\n\\tstd\\n1:\\n\\t" insn "\\n\\tcld" \\
                               : "+S"(s), "+D"(d), "+c"(c) : "a"(a), [df] "r"(df) : "cc", "memory"); \\
              *si = s; *di = d; *cx = c; }
            DEF(movs1, "movsb") DEF(movs2, "movsw") DEF(movs4, "movsl") DEF(movs8, "movsq")
            DEF(stos1, "stosb") DEF(stos2, "stosw") DEF(stos4, "stosl") DEF(stos8, "stosq")
            DEF(rmovs1, "rep movsb") DEF(rmovs2, "rep movsw") DEF(rmovs4, "rep movsl") DEF(rmovs8, "rep movsq")
            DEF(rstos1, "rep stosb") DEF(rstos2, "rep stosw") DEF(rstos4, "rep stosl") DEF(rstos8, "rep stosq")
            typedef void (*fn)(uint64_t, uint64_t, uint64_t *, uint64_t *, uint64_t *);
            static const struct { const char *op; int size; int rep; fn f; } OPS[] = {
              {"movs", 1, 0, movs1}, {"movs", 2, 0, movs2}, {"movs", 4, 0, movs4}, {"movs", 8, 0, movs8},
              {"stos", 1, 0, stos1}, {"stos", 2, 0, stos2}, {"stos", 4, 0, stos4}, {"stos", 8, 0, stos8},
              {"movs", 1, 1, rmovs1}, {"movs", 2, 1, rmovs2}, {"movs", 4, 1, rmovs4}, {"movs", 8, 1, rmovs8},
              {"stos", 1, 1, rstos1}, {"stos", 2, 1, rstos2}, {"stos", 4, 1, rstos4}, {"stos", 8, 1, rstos8},
            };
            int main(void) {
              static uint8_t src[64], dst[64];
              const uint64_t counts[] = {0, 1, 3};
              const uint64_t rax = 0x8877665544332211ULL;
              for (unsigned i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
                for (int df = 0; df < 2; df++)
                  for (int k = 0; k < 3; k++) {
                    for (int b = 0; b < 64; b++) { src[b] = (uint8_t)(b * 7 + 1); dst[b] = 0xee; }
                    uint64_t si = (uint64_t)(src + 32), di = (uint64_t)(dst + 32), cx = counts[k];
                    OPS[i].f(df, rax, &si, &di, &cx);
                    printf("%s %d %d %d %llu %lld %lld %llu ", OPS[i].op, OPS[i].size, OPS[i].rep, df,
                           (unsigned long long)counts[k], (long long)(si - (uint64_t)src), (long long)(di - (uint64_t)dst),
                           (unsigned long long)cx);
                    for (int b = 0; b < 64; b++) printf("%02x", dst[b]);
                    printf("\\n");
                  }
              return 0;
            }
            """;
    private static final long RAX = 0x8877_6655_4433_2211L;
    /** Where the test's guest has the two buffers: linear and physical addresses alike. */
    private static final long SRC = 0x1000;
    private static final long DST = 0x2000;

    record Case(String op, int size, boolean rep, boolean df, long count, long rsi, long rdi, long rcx, String destination) {}

    @TempDir
    static Path dir;
    static List<Case> cases;

    @BeforeAll
    static void runOnTheCpu() throws Exception {
        HostTools.ensurePackages("gcc", "libc6-dev");
        assumeTrue(HostTools.run("gcc", "-dumpmachine").startsWith("x86_64"), "needs an x86-64 gcc and CPU");
        Path c = dir.resolve("strings.c");
        Files.writeString(c, PROGRAM);
        HostTools.run(dir, List.of("gcc", "-O1", "-o", "strings", c.toString()));
        HostTools.Result run = HostTools.runSeparately(List.of(dir.resolve("strings").toString()));
        assertThat(run.exit()).as(run.err()).isZero();
        cases = new ArrayList<>();
        for (String line : run.out().split("\n")) {
            String[] f = line.split(" ");
            cases.add(new Case(f[0], Integer.parseInt(f[1]), f[2].equals("1"), f[3].equals("1"), Long.parseLong(f[4]),
                    Long.parseLong(f[5]), Long.parseLong(f[6]), Long.parseLong(f[7]), f[8]));
        }
    }

    @Test
    void theCpuRanEveryFormAtEverySizeBothWays() {
        assertThat(cases).hasSize(2 * 4 * 2 * 2 * 3);
    }

    @Test
    void theEmulatorEndsWhereTheCpuEnds() {
        for (Case k : cases) {
            byte[] src = new byte[64];
            byte[] dst = new byte[64];
            for (int b = 0; b < 64; b++) {
                src[b] = (byte) (b * 7 + 1);
                dst[b] = (byte) 0xee;
            }
            InstructionEmulator.Memory memory = new InstructionEmulator.Memory() {
                @Override
                public long read(long gpa, int size) {
                    long v = 0;
                    for (int b = 0; b < size; b++) {
                        v |= (long) (buffer(gpa)[(int) (gpa & 63) + b] & 0xff) << (8 * b);
                    }
                    return v;
                }

                @Override
                public void write(long gpa, int size, long value) {
                    for (int b = 0; b < size; b++) {
                        buffer(gpa)[(int) (gpa & 63) + b] = (byte) (value >>> (8 * b));
                    }
                }

                private byte[] buffer(long gpa) {
                    return (gpa & ~63L) == SRC ? src : dst;
                }

                @Override
                public long translate(int segment, long offset, int size, boolean write) {
                    return offset;
                }
            };
            // the REX prefix last: one before a legacy prefix does not count
            String bytes = (k.rep() ? "f3 " : "") + (k.size() == 2 ? "66 " : k.size() == 8 ? "48 " : "")
                    + (k.op().equals("movs") ? (k.size() == 1 ? "a4" : "a5") : (k.size() == 1 ? "aa" : "ab"));
            byte[] instruction = HexFormat.ofDelimiter(" ").parseHex(bytes);
            TestRegisters registers = TestRegisters.at(0x4000).with(Registers.RSI, SRC + 32).with(Registers.RDI, DST + 32)
                    .with(Registers.RCX, k.count()).with(Registers.RAX, RAX);
            registers.rflags = 0x2 | (k.df() ? MmioEmulator.DF : 0);
            EmulationResult result = MmioEmulator.emulate(instruction, instruction.length, CpuMode.LONG_64, registers, DST + 32, memory);
            String what = k + " as " + bytes;
            assertThat(result).as(what).isEqualTo(new EmulationResult.Emulated(0x4000 + instruction.length));
            assertThat(registers.gprs[Registers.RSI] - SRC).as(what + ": rsi").isEqualTo(k.rsi());
            assertThat(registers.gprs[Registers.RDI] - DST).as(what + ": rdi").isEqualTo(k.rdi());
            assertThat(registers.gprs[Registers.RCX]).as(what + ": rcx").isEqualTo(k.rcx());
            assertThat(HexFormat.of().formatHex(dst)).as(what + ": destination").isEqualTo(k.destination());
        }
    }
}
