package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.arch.x86_64.emulator.RecordingMmio.Access;
import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code mov} in its memory forms, {@code movzx}/{@code movsx}/{@code movsxd} and {@code xchg} against the CPU this
 * test runs on, as {@link AluDifferentialTest} does the ALU. The test encodes each case itself: an opcode at an
 * operand size (none, {@code 66}, REX.W, {@code 66} with REX.W, a REX placed before a legacy prefix so that it
 * does not count), a register operand (AH to BH without REX, SPL to DIL and R8B to R15B with one), an addressing
 * form ({@code [base]}, {@code [base+disp8]}, {@code [base+disp32]}, SIB with and without base or index, R12 and
 * R13 as base, RIP-relative, absolute {@code disp32}, {@code moffs}), 64- or 32-bit ({@code 67}) addresses, and
 * sometimes a null segment prefix or {@code lock} on {@code xchg}; register values random, the base and index
 * solved so that the operand lands in a page of data, their upper halves junk under {@code 67}.
 *
 * <p>A C program compiled with gcc copies the bytes, followed by {@code ret}, to a page at {@link #CODE}, puts
 * the operand's bytes at their place in the page after it (every other byte a known background), loads the
 * fifteen registers it can (all but RSP) and RFLAGS, calls the instruction, and prints the registers, RFLAGS and
 * the memory after. The emulator gets the same bytes (and the {@code ret} after them, as an intercept carries
 * more bytes than the instruction), the same registers and RIP, and the operand's address as the intercept's;
 * it must end with the CPU's registers and RFLAGS (so the merging of 8- and 16-bit results, the zeroing above
 * 32-bit ones, the extensions), write what the CPU wrote and nothing else, and make exactly the accesses of
 * the operand's size the form defines: a read, a write, or for {@code xchg} a read then a write. A quarter of
 * the operands end at the last byte of the page, with no page after: that the CPU did not fault there shows it
 * read no more than that size. The decoder's effective address must be where the CPU accessed. Needs an x86-64
 * gcc and CPU; skipped elsewhere.
 */
class MovDifferentialTest {
    private static final String PROGRAM = """
            #define _GNU_SOURCE
            #include <setjmp.h>
            #include <signal.h>
            #include <stdint.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/mman.h>
            #define CODE ((uint8_t *)0x20000000UL)
            #define BACKGROUND 0xc3
            uint64_t g_in[16], g_out[16], g_flags_in, g_flags_out;
            void *g_code;
            void run_case(void);
            #define LD(i, r) "movq g_in+" #i "*8(%rip), %" r "\\n"
            #define ST(i, r) "movq %" r ", g_out+" #i "*8(%rip)\\n"
            /* every register but rsp from g_in, the instruction, every register to g_out; callee-saved ones kept */
            __asm__(".text\\n.globl run_case\\nrun_case:\\n"
                    "pushq %rbx\\npushq %rbp\\npushq %r12\\npushq %r13\\npushq %r14\\npushq %r15\\n"
                    "pushq g_flags_in(%rip)\\npopfq\\n"
                    LD(0, "rax") LD(1, "rcx") LD(2, "rdx") LD(3, "rbx") LD(5, "rbp") LD(6, "rsi") LD(7, "rdi")
                    LD(8, "r8") LD(9, "r9") LD(10, "r10") LD(11, "r11") LD(12, "r12") LD(13, "r13") LD(14, "r14") LD(15, "r15")
                    "call *g_code(%rip)\\n"
                    "pushfq\\npopq g_flags_out(%rip)\\n"
                    ST(0, "rax") ST(1, "rcx") ST(2, "rdx") ST(3, "rbx") ST(5, "rbp") ST(6, "rsi") ST(7, "rdi")
                    ST(8, "r8") ST(9, "r9") ST(10, "r10") ST(11, "r11") ST(12, "r12") ST(13, "r13") ST(14, "r14") ST(15, "r15")
                    "cld\\npopq %r15\\npopq %r14\\npopq %r13\\npopq %r12\\npopq %rbp\\npopq %rbx\\nret\\n");
            static sigjmp_buf fault;
            static void on_fault(int sig) { (void)sig; siglongjmp(fault, 1); }
            static int execute(void) {
              if (sigsetjmp(fault, 1)) return 1;
              run_case();
              return 0;
            }
            static int hex(const char *s, uint8_t *out) {
              int n = 0;
              for (; s[0] && s[1]; s += 2) { unsigned v; sscanf(s, "%2x", &v); out[n++] = (uint8_t)v; }
              return n;
            }
            int main(int argc, char **argv) {
              /* the code page, then the data page; nothing mapped after it */
              uint8_t *page = mmap(CODE, 2 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
              if (page != CODE) { perror("mmap"); return 1; }
              if (munmap(CODE + 2 * 4096, 4096) != 0) { perror("munmap"); return 1; }
              uint8_t *data = page + 4096;
              struct sigaction sa;
              memset(&sa, 0, sizeof sa);
              sa.sa_handler = on_fault;
              sa.sa_flags = SA_NODEFER;
              sigaction(SIGSEGV, &sa, 0);
              sigaction(SIGBUS, &sa, 0);
              FILE *in = fopen(argv[1], "r");
              if (!in || argc != 2) { perror("cases"); return 1; }
              char code[64], window[64];
              unsigned target;
              while (fscanf(in, "%63s", code) == 1) {
                for (int r = 0; r < 16; r++) if (fscanf(in, "%lx", &g_in[r]) != 1) return 2;
                if (fscanf(in, "%lx %u %63s", &g_flags_in, &target, window) != 3) return 2;
                memset(page, 0xcc, 4096);
                page[hex(code, page)] = 0xc3;
                memset(data, BACKGROUND, 4096);
                uint8_t w[32];
                int n = hex(window, w);
                memcpy(data + target, w, n);
                g_code = page;
                if (execute()) { printf("fault\\n"); continue; }
                int outside = 0;
                for (int b = 0; b < 4096; b++)
                  if ((b < (int)target || b >= (int)target + n) && data[b] != BACKGROUND) outside++;
                for (int r = 0; r < 16; r++) printf("%lx ", g_out[r]);
                printf("%lx %d ", g_flags_out, outside);
                for (int b = 0; b < n; b++) printf("%02x", data[target + b]);
                printf("\\n");
              }
              return 0;
            }
            """;
    /** Where the program puts the instruction, and the page of data after it, below 4 GiB for the 32-bit addresses. */
    private static final long CODE = 0x2000_0000L;
    private static final long DATA = CODE + 0x1000;
    private static final int PAGE = 4096;
    private static final HexFormat HEX = HexFormat.of();

    enum Kind { LOAD, STORE, EXCHANGE }

    /**
     * An instruction: its opcode bytes, what it does with memory, the operand sizes it comes in, and the size of
     * its memory operand at each ({@code 0}: the operand size). {@code register}: it has a ModRM register operand;
     * {@code immediate}: an immediate of the operand size (at most 4 bytes); {@code moffs}: no ModRM, an address.
     */
    record Form(String name, String opcode, Kind kind, int[] sizes, int memorySize, boolean register, boolean immediate, boolean moffs) {
        int memorySize(int operandSize) {
            return memorySize == 0 ? operandSize : memorySize;
        }
    }

    private static Form modrm(String name, String opcode, Kind kind, int memorySize, int... sizes) {
        return new Form(name, opcode, kind, sizes, memorySize, true, false, false);
    }

    private static final List<Form> FORMS = List.of(
            modrm("mov m8, r8", "88", Kind.STORE, 0, 1),
            modrm("mov m, r", "89", Kind.STORE, 0, 2, 4, 8),
            modrm("mov r8, m8", "8a", Kind.LOAD, 0, 1),
            modrm("mov r, m", "8b", Kind.LOAD, 0, 2, 4, 8),
            new Form("mov m8, imm8", "c6", Kind.STORE, new int[] {1}, 0, false, true, false),
            new Form("mov m, imm", "c7", Kind.STORE, new int[] {2, 4, 8}, 0, false, true, false),
            new Form("mov al, moffs8", "a0", Kind.LOAD, new int[] {1}, 0, false, false, true),
            new Form("mov rax, moffs", "a1", Kind.LOAD, new int[] {2, 4, 8}, 0, false, false, true),
            new Form("mov moffs8, al", "a2", Kind.STORE, new int[] {1}, 0, false, false, true),
            new Form("mov moffs, rax", "a3", Kind.STORE, new int[] {2, 4, 8}, 0, false, false, true),
            modrm("movzx r, m8", "0fb6", Kind.LOAD, 1, 2, 4, 8),
            modrm("movzx r, m16", "0fb7", Kind.LOAD, 2, 2, 4, 8),
            modrm("movsx r, m8", "0fbe", Kind.LOAD, 1, 2, 4, 8),
            modrm("movsx r, m16", "0fbf", Kind.LOAD, 2, 2, 4, 8),
            // 66 63 is left out: the vendors disagree on its access size (movsxdWithTheOperandSizePrefixIsRefused)
            modrm("movsxd r, m32", "63", Kind.LOAD, 4, 4, 8),
            modrm("xchg m8, r8", "86", Kind.EXCHANGE, 0, 1),
            modrm("xchg m, r", "87", Kind.EXCHANGE, 0, 2, 4, 8));

    /** How the prefixes make the operand size. */
    enum Prefixing { PLAIN, REX, OPERAND_SIZE, OPERAND_SIZE_REX, REX_W, OPERAND_SIZE_REX_W, STALE_REX }

    private static List<Prefixing> prefixings(int size) {
        return switch (size) {
            case 1, 4 -> List.of(Prefixing.PLAIN, Prefixing.REX, Prefixing.STALE_REX);
            case 2 -> List.of(Prefixing.OPERAND_SIZE, Prefixing.OPERAND_SIZE_REX, Prefixing.STALE_REX);
            default -> List.of(Prefixing.REX_W, Prefixing.OPERAND_SIZE_REX_W);
        };
    }

    enum Addressing { BASE, BASE_DISP8, BASE_DISP32, SIB, SIB_NO_INDEX, SIB_NO_BASE, ABSOLUTE, RIP, MOFFS }

    record Case(String form, int size, Kind kind, int memorySize, byte[] instruction, long[] registers, long rflags,
                int offset, byte[] window, int addressSize) {
        long address() {
            return DATA + offset;
        }

        @Override
        public String toString() {
            return String.format("%s/%d [%s] at 0x%x", form, size, HexFormat.ofDelimiter(" ").formatHex(instruction), address());
        }
    }

    /** What the CPU left: the registers (RSP not loaded), RFLAGS, how many bytes outside the window changed, the window. */
    record Outcome(long[] registers, long rflags, int outside, byte[] window) {}

    @TempDir
    static Path dir;
    static List<Case> cases;
    static List<Outcome> outcomes;

    @BeforeAll
    static void runOnTheCpu() throws Exception {
        HostTools.ensurePackages("gcc", "libc6-dev");
        assumeTrue(HostTools.run("gcc", "-dumpmachine").startsWith("x86_64"), "needs an x86-64 gcc and CPU");
        cases = generate(new Random(0x6d6f76L));
        outcomes = execute(cases);
    }

    static List<Outcome> execute(List<Case> cases) throws Exception {
        Path c = dir.resolve("mov.c");
        Files.writeString(c, PROGRAM);
        HostTools.run(dir, List.of("gcc", "-O1", "-o", "mov", c.toString()));
        StringBuilder input = new StringBuilder();
        for (Case k : cases) {
            input.append(HEX.formatHex(k.instruction()));
            for (long r : k.registers()) {
                input.append(' ').append(Long.toHexString(r));
            }
            input.append(String.format(" %x %d %s%n", k.rflags(), k.offset(), HEX.formatHex(k.window())));
        }
        Path in = dir.resolve("cases.txt");
        Files.writeString(in, input);
        HostTools.Result run = HostTools.runSeparately(List.of(dir.resolve("mov").toString(), in.toString()));
        assertThat(run.exit()).as(run.err()).isZero();
        List<Outcome> out = new ArrayList<>();
        for (String line : run.out().split("\n")) {
            if (line.equals("fault")) {
                out.add(null);
                continue;
            }
            String[] f = line.split(" ");
            long[] registers = new long[16];
            for (int r = 0; r < 16; r++) {
                registers[r] = Long.parseUnsignedLong(f[r], 16);
            }
            out.add(new Outcome(registers, Long.parseUnsignedLong(f[16], 16), Integer.parseInt(f[17]), HEX.parseHex(f[18])));
        }
        assertThat(out).hasSameSizeAs(cases);
        return out;
    }

    // the cases

    static List<Case> generate(Random random) {
        List<Case> out = new ArrayList<>();
        for (Form form : FORMS) {
            for (int size : form.sizes()) {
                for (Prefixing prefixing : prefixings(size)) {
                    List<Addressing> addressings = form.moffs() ? List.of(Addressing.MOFFS)
                            : List.of(Addressing.BASE, Addressing.BASE_DISP8, Addressing.BASE_DISP32, Addressing.SIB,
                            Addressing.SIB_NO_INDEX, Addressing.SIB_NO_BASE, Addressing.ABSOLUTE, Addressing.RIP);
                    for (Addressing addressing : addressings) {
                        for (int addressSize : new int[] {8, 4}) {
                            int repeat = form.moffs() ? 24 : 6;
                            for (int n = 0; n < repeat; n++) {
                                out.add(generate(random, form, size, prefixing, addressing, addressSize));
                            }
                        }
                    }
                }
            }
        }
        return out;
    }

    private static Case generate(Random random, Form form, int size, Prefixing prefixing, Addressing addressing, int addressSize) {
        int memorySize = form.memorySize(size);
        boolean rex = prefixing == Prefixing.REX || prefixing == Prefixing.OPERAND_SIZE_REX || prefixing == Prefixing.REX_W
                || prefixing == Prefixing.OPERAND_SIZE_REX_W;
        // registers a REX can reach only with one; never RSP, which the program cannot set (nor SPL, its low byte)
        int registerCount = rex ? 16 : 8;
        long[] registers = new long[16];
        for (int r = 0; r < 16; r++) {
            registers[r] = random.nextLong();
        }
        registers[Registers.RSP] = 0x7ffd_1234_5678_9ab0L;
        // without REX, byte register 4 is AH, not SPL
        int reg = !form.register() ? 0 : size == 1 && !rex ? random.nextInt(8) : pick(random, registerCount, -1);
        int base = pick(random, registerCount, -1);
        int index = pick(random, registerCount, base);
        int scale = 1 << random.nextInt(4);
        boolean pageEnd = random.nextInt(4) == 0;
        int offset = pageEnd ? PAGE - memorySize : random.nextInt(PAGE - 16);
        long target = DATA + offset;
        byte[] window = new byte[Math.min(16, PAGE - offset)];
        random.nextBytes(window);

        ByteBuilder b = new ByteBuilder();
        List<Integer> legacy = new ArrayList<>();
        if (prefixing == Prefixing.OPERAND_SIZE || prefixing == Prefixing.OPERAND_SIZE_REX || prefixing == Prefixing.OPERAND_SIZE_REX_W
                || prefixing == Prefixing.STALE_REX && size == 2) {
            legacy.add(0x66);
        }
        if (addressSize == 4) {
            legacy.add(0x67);
        }
        if (random.nextInt(4) == 0) {
            legacy.add(new int[] {0x26, 0x2e, 0x36, 0x3e}[random.nextInt(4)]); // null in 64-bit mode
        }
        if (form.kind() == Kind.EXCHANGE && random.nextInt(4) == 0) {
            legacy.add(0xf0);
        }
        if (prefixing == Prefixing.STALE_REX) {
            // a REX with every bit set, then a legacy prefix: the CPU ignores the REX
            b.add(0x4f);
            if (legacy.isEmpty()) {
                legacy.add(0x3e);
            }
        }
        Collections.shuffle(legacy, random);
        legacy.forEach(b::add);

        int rexBits = 0x40 | (prefixing == Prefixing.REX_W || prefixing == Prefixing.OPERAND_SIZE_REX_W ? 8 : 0) | (reg >> 3) << 2;
        int mod;
        int rm;
        int sib = -1;
        long displacement;
        int displacementSize;
        switch (addressing) {
            case BASE, BASE_DISP8, BASE_DISP32 -> {
                // rm 100 means SIB and mod 00 rm 101 RIP: R12 and R13 as base need those forms, below
                if ((base & 7) == 4 || addressing == Addressing.BASE && (base & 7) == 5) {
                    base = (base & 8) | 3;
                }
                mod = addressing.ordinal();
                rm = base & 7;
                rexBits |= base >> 3;
                displacementSize = new int[] {0, 1, 4}[mod];
                displacement = displacement(random, displacementSize);
                registers[base] = solve(random, target - displacement, addressSize);
            }
            case SIB, SIB_NO_INDEX -> {
                mod = random.nextInt(3);
                if (mod == 0 && (base & 7) == 5) {
                    mod = 1; // SIB base 101 with mod 00 means no base
                }
                rm = 4;
                boolean noIndex = addressing == Addressing.SIB_NO_INDEX;
                sib = Integer.numberOfTrailingZeros(scale) << 6 | (noIndex ? 4 : index & 7) << 3 | base & 7;
                rexBits |= base >> 3 | (noIndex ? 0 : index >> 3) << 1;
                displacementSize = new int[] {0, 1, 4}[mod];
                displacement = displacement(random, displacementSize);
                long scaled = 0;
                if (!noIndex) {
                    registers[index] = random.nextLong();
                    scaled = registers[index] * scale;
                }
                registers[base] = solve(random, target - displacement - scaled, addressSize);
            }
            case SIB_NO_BASE -> {
                mod = 0;
                rm = 4;
                sib = Integer.numberOfTrailingZeros(scale) << 6 | (index & 7) << 3 | 5;
                rexBits |= (index >> 3) << 1;
                displacementSize = 4;
                long d = random.nextInt(1 << 30) - (1 << 29);
                d += (target - d) & (scale - 1);
                displacement = d;
                registers[index] = solve(random, (target - d) / scale, addressSize);
            }
            case ABSOLUTE -> {
                mod = 0;
                rm = 4;
                sib = 4 << 3 | 5; // no base, no index: disp32
                displacementSize = 4;
                displacement = target;
            }
            case RIP -> {
                mod = 0;
                rm = 5;
                displacementSize = 4;
                displacement = 0; // once the length is known
            }
            default -> {
                mod = -1;
                rm = 0;
                displacementSize = addressSize;
                displacement = target;
            }
        }
        if (rex) {
            b.add(rexBits);
        }
        for (byte o : HEX.parseHex(form.opcode())) {
            b.add(o & 0xff);
        }
        if (mod >= 0) {
            b.add(mod << 6 | (reg & 7) << 3 | rm);
        }
        if (sib >= 0) {
            b.add(sib);
        }
        int displacementAt = b.size();
        b.addLittleEndian(displacement, displacementSize);
        if (form.immediate()) {
            b.addLittleEndian(random.nextLong(), Math.min(size, 4));
        }
        if (addressing == Addressing.RIP) {
            b.setLittleEndian(displacementAt, target - (CODE + b.size()), 4);
        }
        long rflags = 0x202 | random.nextLong() & (Alu.STATUS | MmioEmulator.DF);
        return new Case(form.name(), size, form.kind(), memorySize, b.bytes(), registers, rflags, offset, window, addressSize);
    }

    /** A register number below {@code count}, not RSP and not {@code other}. */
    private static int pick(Random random, int count, int other) {
        while (true) {
            int r = random.nextInt(count);
            if (r != Registers.RSP && r != other) {
                return r;
            }
        }
    }

    private static long displacement(Random random, int size) {
        return switch (size) {
            case 1 -> (byte) random.nextInt();
            case 4 -> random.nextInt();
            default -> 0;
        };
    }

    /** A register value that makes {@code value} at the address size: its upper half junk under 32-bit addresses. */
    private static long solve(Random random, long value, int addressSize) {
        return addressSize == 8 ? value : (value & 0xffff_ffffL) | random.nextLong() << 32;
    }

    private static final class ByteBuilder {
        private final byte[] bytes = new byte[15];
        private int size;

        void add(int b) {
            bytes[size++] = (byte) b;
        }

        void addLittleEndian(long value, int count) {
            for (int i = 0; i < count; i++) {
                add((int) (value >>> (8 * i)));
            }
        }

        void setLittleEndian(int at, long value, int count) {
            for (int i = 0; i < count; i++) {
                bytes[at + i] = (byte) (value >>> (8 * i));
            }
        }

        int size() {
            return size;
        }

        byte[] bytes() {
            return Arrays.copyOf(bytes, size);
        }
    }

    // the comparison

    @Test
    void everyFormRanOnTheCpuAtEverySizeWithEveryPrefixingAndAddressing() {
        Map<String, Integer> perForm = new TreeMap<>();
        for (Case k : cases) {
            perForm.merge(k.form() + "/" + k.size(), 1, Integer::sum);
        }
        assertThat(perForm).hasSize(FORMS.stream().mapToInt(f -> f.sizes().length).sum());
        assertThat(perForm.values()).allSatisfy(n -> assertThat(n).isGreaterThanOrEqualTo(96));
        assertThat(cases).hasSize(8832);
    }

    @Test
    void theCpuAccessedOnlyTheOperandAndNeverFaulted() {
        List<String> problems = new ArrayList<>();
        for (int n = 0; n < cases.size(); n++) {
            Case k = cases.get(n);
            Outcome o = outcomes.get(n);
            if (o == null) {
                problems.add(k + ": the CPU faulted");
            } else if (o.outside() != 0) {
                problems.add(k + ": the CPU changed " + o.outside() + " bytes outside the operand's window");
            } else if (!Arrays.equals(o.window(), k.memorySize(), o.window().length, k.window(), k.memorySize(), k.window().length)) {
                problems.add(k + ": the CPU changed bytes past the operand");
            }
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void theEmulatorEndsWithTheCpusRegistersMemoryAndAccesses() {
        List<String> mismatches = new ArrayList<>();
        for (int n = 0; n < cases.size(); n++) {
            Outcome o = outcomes.get(n);
            if (o != null) {
                compare(cases.get(n), o, mismatches);
            }
        }
        assertThat(mismatches).as("%d of %d cases differ, the first of them", mismatches.size(), cases.size())
                .isEmpty();
    }

    /**
     * {@code 66 63} ({@code movsxd r16, m16} in Intel's SDM) is a valid instruction that gives the low word, but the
     * vendors disagree on its read: Intel's SDM reads a word, while the AMD EPYC this test was written on faulted
     * with the word at the end of the page and nothing after it, so it read a doubleword. The emulator cannot know
     * which the guest's CPU does, and refuses it.
     */
    @Test
    void movsxdWithTheOperandSizePrefixIsRefused() throws Exception {
        List<Case> probes = new ArrayList<>();
        for (int offset : new int[] {0x800, PAGE - 2}) {
            long[] registers = new long[16];
            registers[Registers.RAX] = DATA + offset;
            registers[Registers.RCX] = 0x1122_3344_5566_7788L;
            probes.add(new Case("movsxd r16, m16", 2, Kind.LOAD, 2, HEX.parseHex("666308"), registers, 0x202, offset,
                    Arrays.copyOf(new byte[] {(byte) 0x80, (byte) 0x91, 0x22, 0x33}, Math.min(4, PAGE - offset)), 8));
        }
        List<Outcome> cpu = execute(probes);
        assertThat(cpu.getFirst()).as("the CPU executes 66 63").isNotNull();
        assertThat(cpu.getFirst().registers()[Registers.RCX]).isEqualTo(0x1122_3344_5566_9180L);
        for (Case k : probes) {
            TestRegisters registers = TestRegisters.at(CODE);
            System.arraycopy(k.registers(), 0, registers.gprs, 0, 16);
            RecordingMmio mmio = new RecordingMmio(0x3322_9180L);
            assertThat(MmioEmulator.emulate(k.instruction(), k.instruction().length, CpuMode.LONG_64, registers, k.address(), mmio))
                    .isInstanceOf(EmulationResult.CannotEmulate.class);
            assertThat(mmio.accesses).isEmpty();
        }
    }

    static void compare(Case k, Outcome o, List<String> mismatches) {
        int length = k.instruction().length;
        // what the intercept carries: the instruction, the ret after it, the page's filler
        byte[] fetched = new byte[16];
        Arrays.fill(fetched, (byte) 0xcc);
        System.arraycopy(k.instruction(), 0, fetched, 0, length);
        fetched[length] = (byte) 0xc3;
        TestRegisters registers = TestRegisters.at(CODE);
        System.arraycopy(k.registers(), 0, registers.gprs, 0, 16);
        registers.rflags = k.rflags();
        // the window and background after it, so that a write too wide shows as one
        byte[] memory = Arrays.copyOf(k.window(), k.window().length + 8);
        Arrays.fill(memory, k.window().length, memory.length, (byte) 0xc3);
        RecordingMmio mmio = new RecordingMmio(0);
        mmio.contents = gpa -> littleEndian(memory, (int) (gpa - k.address()), 8);
        EmulationResult result = MmioEmulator.emulate(fetched, fetched.length, CpuMode.LONG_64, registers, k.address(), mmio);
        for (Access a : mmio.accesses) {
            if (a.isWrite()) {
                for (int i = 0; i < a.size(); i++) {
                    memory[(int) (a.gpa() - k.address()) + i] = (byte) (a.value() >>> (8 * i));
                }
            }
        }

        List<String> differences = new ArrayList<>();
        if (!result.equals(new EmulationResult.Emulated(CODE + length)) || registers.rip != CODE + length) {
            differences.add("result " + result + ", rip " + Long.toHexString(registers.rip));
        }
        for (int r = 0; r < 16; r++) {
            long expected = r == Registers.RSP ? k.registers()[r] : o.registers()[r];
            if (registers.gprs[r] != expected) {
                differences.add(String.format("r%d %x, cpu %x (before %x)", r, registers.gprs[r], expected, k.registers()[r]));
            }
        }
        if (registers.rflags != o.rflags()) {
            differences.add(String.format("rflags %x, cpu %x", registers.rflags, o.rflags()));
        }
        byte[] cpuMemory = Arrays.copyOf(o.window(), memory.length);
        Arrays.fill(cpuMemory, o.window().length, cpuMemory.length, (byte) 0xc3);
        if (!Arrays.equals(memory, cpuMemory)) {
            differences.add("memory " + HEX.formatHex(memory) + ", cpu " + HEX.formatHex(cpuMemory));
        }
        long before = littleEndian(k.window(), 0, k.memorySize());
        long after = littleEndian(o.window(), 0, k.memorySize());
        List<Access> expected = switch (k.kind()) {
            case LOAD -> List.of(Access.read(k.address(), k.memorySize(), before));
            case STORE -> List.of(Access.write(k.address(), k.memorySize(), after));
            case EXCHANGE -> List.of(Access.read(k.address(), k.memorySize(), before), Access.write(k.address(), k.memorySize(), after));
        };
        if (!mmio.accesses.equals(expected)) {
            differences.add("accesses " + mmio.accesses + ", expected " + expected);
        }
        try {
            Instruction i = InstructionDecoder.decode(fetched, fetched.length, CpuMode.LONG_64);
            TestRegisters initial = TestRegisters.at(CODE);
            System.arraycopy(k.registers(), 0, initial.gprs, 0, 16);
            long address = i.memory().effectiveAddress(initial, CODE + length, i.addressSize());
            if (address != k.address() || i.addressSize() != k.addressSize()) {
                differences.add(String.format("effective address %x at %d bytes, cpu %x at %d", address, i.addressSize(),
                        k.address(), k.addressSize()));
            }
        } catch (Refused e) {
            differences.add("does not decode: " + e.getMessage());
        }
        if (!differences.isEmpty()) {
            mismatches.add(k + ": " + String.join("; ", differences));
        }
    }

    private static long littleEndian(byte[] bytes, int at, int count) {
        long v = 0;
        for (int i = 0; i < count; i++) {
            int b = at + i < bytes.length ? bytes[at + i] & 0xff : 0xc3; // the background after the window
            v |= (long) b << (8 * i);
        }
        return v;
    }
}
