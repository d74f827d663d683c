package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.arch.x86_64.emulator.RecordingMmio.Access;
import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The ALU instructions against the CPU this test runs on: a C program compiled with gcc executes
 * {@code add}, {@code or}, {@code adc}, {@code sbb}, {@code and}, {@code sub}, {@code xor}, {@code cmp} and {@code test}
 * with a memory destination at 8, 16, 32 and 64 bits, natively (inline assembly), over edge-case operands
 * (0, 1, the nibble carry, the signed and unsigned limits, alternating bits), entered once with the six
 * status flags clear and once with them set, and prints the result and RFLAGS. The emulator must give the
 * same for the same operands in three encodings: memory destination ({@code 01 /r}), register destination
 * ({@code 03 /r}), and immediate ({@code 80}/{@code 81}/{@code 83}, {@code f6}/{@code f7}) where the value fits one.
 *
 * <p>So the oracle is the hardware, not a second copy of the flag formulas; and the flags the SDM calls
 * undefined (AF after a logical operation) are compared too, so a CPU that does otherwise than
 * {@link Alu} chose shows up here. Needs an x86-64 gcc; skipped elsewhere.
 */
class AluDifferentialTest {
    private static final String PROGRAM = """
            #include <stdint.h>
            #include <stdio.h>
            #define STATUS 0x8d5ULL
            #define DEF(name, insn, T, mod) \\
            static void name(uint64_t a0, uint64_t b0, uint64_t fin, uint64_t *r, uint64_t *fout) { \\
              T m = (T)a0; T b = (T)b0; uint64_t f = fin; \\
              __asm__ volatile("pushq %[f]\\n\\tpopfq\\n\\t" insn " %" mod "[b], (%[p])\\n\\tpushfq\\n\\tpopq %[f]" \\
                               : [f] "+r"(f) : [b] "q"(b), [p] "r"(&m) : "cc", "memory"); \\
              *r = (uint64_t)m; *fout = f; }
            #define DEF4(op) DEF(op##1, #op "b", uint8_t, "b") DEF(op##2, #op "w", uint16_t, "w") \\
                             DEF(op##4, #op "l", uint32_t, "k") DEF(op##8, #op "q", uint64_t, "q")
            DEF4(add) DEF4(or) DEF4(adc) DEF4(sbb) DEF4(and) DEF4(sub) DEF4(xor) DEF4(cmp) DEF4(test)
            typedef void (*op_fn)(uint64_t, uint64_t, uint64_t, uint64_t *, uint64_t *);
            #define ROW(op) {#op, 1, op##1}, {#op, 2, op##2}, {#op, 4, op##4}, {#op, 8, op##8}
            static const struct { const char *name; int size; op_fn fn; } OPS[] = {
              ROW(add), ROW(or), ROW(adc), ROW(sbb), ROW(and), ROW(sub), ROW(xor), ROW(cmp), ROW(test)
            };
            static int values(int size, uint64_t *v) {
              uint64_t mask = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1, top = 1ULL << (size * 8 - 1);
              int n = 0;
              v[n++] = 0; v[n++] = 1; v[n++] = 2; v[n++] = 0xf; v[n++] = 0x10; v[n++] = 0x7f;
              v[n++] = top - 1; v[n++] = top; v[n++] = top + 1; v[n++] = mask - 1; v[n++] = mask;
              v[n++] = 0x5555555555555555ULL & mask; v[n++] = 0xaaaaaaaaaaaaaaaaULL & mask;
              v[n++] = 0x0123456789abcdefULL & mask; v[n++] = 0x8080808080808080ULL & mask;
              return n;
            }
            int main(void) {
              uint64_t base;
              __asm__ volatile("pushfq\\n\\tpopq %0" : "=r"(base));
              base &= ~STATUS;
              for (unsigned i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
                uint64_t v[16];
                int n = values(OPS[i].size, v);
                for (int x = 0; x < n; x++)
                  for (int y = 0; y < n; y++)
                    for (int s = 0; s < 2; s++) {
                      uint64_t fin = base | (s ? STATUS : 0), r, fout;
                      OPS[i].fn(v[x], v[y], fin, &r, &fout);
                      printf("%s %d %llx %llx %llx %llx %llx\\n", OPS[i].name, OPS[i].size, (unsigned long long)v[x],
                             (unsigned long long)v[y], (unsigned long long)fin, (unsigned long long)r, (unsigned long long)fout);
                    }
              }
              return 0;
            }
            """;

    /** The memory-destination opcode of each operation's byte form; the register-destination one is 2 above. */
    private static final Map<String, Integer> OPCODE = Map.of("add", 0x00, "or", 0x08, "adc", 0x10, "sbb", 0x18, "and", 0x20,
            "sub", 0x28, "xor", 0x30, "cmp", 0x38, "test", 0x84);
    private static final Map<String, Integer> GROUP_1 = Map.of("add", 0, "or", 1, "adc", 2, "sbb", 3, "and", 4, "sub", 5, "xor", 6, "cmp", 7);
    private static final long GPA = 0xfe00_0000L;
    private static final long JUNK = 0x5a5a_5a5a_5a5a_5a5aL;

    record Case(String op, int size, long a, long b, long flagsIn, long result, long flagsOut) {
        boolean writes() {
            return !op.equals("cmp") && !op.equals("test");
        }

        long mask() {
            return Alu.mask(size);
        }
    }

    @TempDir
    static Path dir;
    static List<Case> cases;

    @BeforeAll
    static void runOnTheCpu() throws Exception {
        HostTools.ensurePackages("gcc", "libc6-dev");
        assumeTrue(HostTools.run("gcc", "-dumpmachine").startsWith("x86_64"), "needs an x86-64 gcc and CPU");
        Path c = dir.resolve("alu.c");
        Files.writeString(c, PROGRAM);
        // no red zone: the assembly pushes below the stack pointer
        HostTools.run(dir, List.of("gcc", "-O1", "-mno-red-zone", "-o", "alu", c.toString()));
        HostTools.Result run = HostTools.runSeparately(List.of(dir.resolve("alu").toString()));
        assertThat(run.exit()).as(run.err()).isZero();
        cases = new ArrayList<>();
        for (String line : run.out().split("\n")) {
            String[] f = line.split(" ");
            cases.add(new Case(f[0], Integer.parseInt(f[1]), Long.parseUnsignedLong(f[2], 16), Long.parseUnsignedLong(f[3], 16),
                    Long.parseUnsignedLong(f[4], 16), Long.parseUnsignedLong(f[5], 16), Long.parseUnsignedLong(f[6], 16)));
        }
    }

    @Test
    void theCpuRanEveryOperationAtEverySizeWithBothFlagStates() {
        assertThat(cases).hasSize(9 * 4 * 15 * 15 * 2);
    }

    @Test
    void aMemoryDestinationGivesTheCpusResultAndFlags() {
        List<String> mismatches = new ArrayList<>();
        for (Case k : cases) {
            TestRegisters registers = TestRegisters.at(0x1000).with(Registers.RCX, k.b());
            registers.rflags = k.flagsIn();
            RecordingMmio mmio = new RecordingMmio(k.a());
            run(k, prefix(k.size()) + String.format("%02x 08", OPCODE.get(k.op()) + (k.size() == 1 ? 0 : 1)), registers, mmio);
            List<Access> expected = k.writes() ? List.of(Access.read(GPA, k.size(), k.a()), Access.write(GPA, k.size(), k.result()))
                    : List.of(Access.read(GPA, k.size(), k.a()));
            check(mismatches, k, "memory destination", registers, mmio.accesses.equals(expected), k.b());
        }
        assertThat(mismatches).isEmpty();
    }

    @Test
    void aRegisterDestinationGivesTheCpusResultAndFlags() {
        List<String> mismatches = new ArrayList<>();
        for (Case k : cases) {
            if (k.op().equals("test")) {
                continue; // 84/85 have only the memory-destination form
            }
            long rcx = (JUNK & ~k.mask()) | k.a();
            TestRegisters registers = TestRegisters.at(0x1000).with(Registers.RCX, rcx);
            registers.rflags = k.flagsIn();
            RecordingMmio mmio = new RecordingMmio(k.b());
            run(k, prefix(k.size()) + String.format("%02x 08", OPCODE.get(k.op()) + 2 + (k.size() == 1 ? 0 : 1)), registers, mmio);
            long expectedRcx = !k.writes() ? rcx : k.size() >= 4 ? k.result() : (rcx & ~k.mask()) | k.result();
            check(mismatches, k, "register destination", registers, mmio.accesses.equals(List.of(Access.read(GPA, k.size(), k.b()))), expectedRcx);
        }
        assertThat(mismatches).isEmpty();
    }

    @Test
    void anImmediateSourceGivesTheCpusResultAndFlags() {
        List<String> mismatches = new ArrayList<>();
        int tried = 0;
        for (Case k : cases) {
            List<String> encodings = immediateEncodings(k);
            for (String hex : encodings) {
                TestRegisters registers = TestRegisters.at(0x1000);
                registers.rflags = k.flagsIn();
                RecordingMmio mmio = new RecordingMmio(k.a());
                run(k, hex, registers, mmio);
                List<Access> expected = k.writes() ? List.of(Access.read(GPA, k.size(), k.a()), Access.write(GPA, k.size(), k.result()))
                        : List.of(Access.read(GPA, k.size(), k.a()));
                check(mismatches, k, hex, registers, mmio.accesses.equals(expected), 0);
                tried++;
            }
        }
        assertThat(mismatches).isEmpty();
        assertThat(tried).isGreaterThan(cases.size());
    }

    /** Every immediate encoding of {@code op [rax], b}: imm8 sign-extended (83), and the full-size form where b fits. */
    private static List<String> immediateEncodings(Case k) {
        List<String> out = new ArrayList<>();
        String p = prefix(k.size());
        boolean test = k.op().equals("test");
        int ext = test ? 0 : GROUP_1.get(k.op());
        String modrm = String.format("%02x", ext << 3);
        HexFormat hex = HexFormat.ofDelimiter(" ");
        if (k.size() == 1) {
            out.add(p + (test ? "f6 " : "80 ") + modrm + String.format(" %02x", k.b()));
            return out;
        }
        int immSize = Math.min(k.size(), 4);
        long extended = k.b() << (64 - 8 * immSize) >> (64 - 8 * immSize);
        if ((extended & k.mask()) == k.b()) {
            byte[] imm = new byte[immSize];
            for (int i = 0; i < immSize; i++) {
                imm[i] = (byte) (k.b() >>> (8 * i));
            }
            out.add(p + (test ? "f7 " : "81 ") + modrm + " " + hex.formatHex(imm));
        }
        if (!test && ((long) (byte) k.b() & k.mask()) == k.b()) {
            out.add(p + "83 " + modrm + String.format(" %02x", k.b() & 0xff));
        }
        return out;
    }

    private static String prefix(int size) {
        return switch (size) {
            case 2 -> "66 ";
            case 8 -> "48 ";
            default -> "";
        };
    }

    private static void run(Case k, String hex, TestRegisters registers, RecordingMmio mmio) {
        byte[] bytes = HexFormat.ofDelimiter(" ").parseHex(hex);
        EmulationResult result = MmioEmulator.emulate(bytes, bytes.length, CpuMode.LONG_64, registers, GPA, mmio);
        assertThat(result).as("%s for %s", hex, k).isEqualTo(new EmulationResult.Emulated(0x1000 + bytes.length));
    }

    private static void check(List<String> mismatches, Case k, String form, TestRegisters registers, boolean accessesMatch, long expectedRcx) {
        if (registers.rflags != k.flagsOut() || !accessesMatch || registers.gprs[Registers.RCX] != expectedRcx) {
            mismatches.add(String.format("%s (%s): rflags %x, cpu %x; accesses %s; rcx %x, expected %x",
                    k, form, registers.rflags, k.flagsOut(), accessesMatch ? "as the cpu's" : "differ", registers.gprs[Registers.RCX], expectedRcx));
        }
    }
}
