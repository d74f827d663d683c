package dev.nimbus.arch.x86_64.emulator;

/**
 * The integer ALU of the group-1 instructions and {@code test}: results and the six status flags, at 8, 16,
 * 32 or 64 bits, as the CPU computes them (Intel SDM volume 1, 3.4.3.1, and each instruction's page).
 *
 * <p>Carry and overflow come from bit formulas over the operands and the result, which hold at every width
 * and for the carry-in of {@code adc}/{@code sbb}: the carry out of the top bit is
 * {@code (a & b) | ((a | b) & ~r)}, the borrow {@code (~a & b) | ((~a | b) & r)}.
 *
 * <p>AF after {@code and}, {@code or}, {@code xor} and {@code test} is undefined in the SDM. It is cleared
 * here, as QEMU does and as the x86-64 CPUs the differential test ran on do (see
 * {@code AluDifferentialTest}, which checks it against the host CPU); a guest cannot rely on either value.
 */
final class Alu {
    static final long CF = 1L;
    static final long PF = 1L << 2;
    static final long AF = 1L << 4;
    static final long ZF = 1L << 6;
    static final long SF = 1L << 7;
    static final long OF = 1L << 11;
    /** The flags an ALU instruction writes; the others in RFLAGS are left as they were. */
    static final long STATUS = CF | PF | AF | ZF | SF | OF;

    /** The operations, the first eight in the order of the ModRM reg field of {@code 80}-{@code 83}. */
    enum Operation {
        ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST;

        private static final Operation[] GROUP_1 = {ADD, OR, ADC, SBB, AND, SUB, XOR, CMP};

        /** The operation of a group-1 opcode extension, or of bits 3-5 of an opcode from {@code 00} to {@code 3b}. */
        static Operation group1(int extension) {
            return GROUP_1[extension & 7];
        }

        /** Whether the result is written back; {@code cmp} and {@code test} only set flags. */
        boolean writesResult() {
            return this != CMP && this != TEST;
        }
    }

    private Alu() {}

    /** {@code a op b} at {@code size} bytes, truncated to that size; {@code carry} is CF for adc and sbb. */
    static long result(Operation operation, int size, long a, long b, boolean carry) {
        long c = carry ? 1 : 0;
        long r = switch (operation) {
            case ADD -> a + b;
            case ADC -> a + b + c;
            case SUB, CMP -> a - b;
            case SBB -> a - b - c;
            case AND, TEST -> a & b;
            case OR -> a | b;
            case XOR -> a ^ b;
        };
        return r & mask(size);
    }

    /** {@code rflags} with the six status flags replaced by those {@code a op b} sets at {@code size} bytes. */
    static long flags(Operation operation, int size, long a, long b, long rflags) {
        long mask = mask(size);
        a &= mask;
        b &= mask;
        long r = result(operation, size, a, b, (rflags & CF) != 0);
        int top = size * 8 - 1;
        long flags = switch (operation) {
            case ADD, ADC -> bit((a & b) | ((a | b) & ~r), top, CF)
                    | bit((a ^ r) & (b ^ r), top, OF)
                    | ((a ^ b ^ r) & AF);
            case SUB, SBB, CMP -> bit((~a & b) | ((~a | b) & r), top, CF)
                    | bit((a ^ b) & (a ^ r), top, OF)
                    | ((a ^ b ^ r) & AF);
            case AND, OR, XOR, TEST -> 0;
        };
        flags |= bit(r, top, SF);
        if (r == 0) {
            flags |= ZF;
        }
        if ((Long.bitCount(r & 0xff) & 1) == 0) {
            flags |= PF;
        }
        return (rflags & ~STATUS) | flags;
    }

    /** The low {@code size} bytes set. */
    static long mask(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    private static long bit(long value, int position, long flag) {
        return ((value >>> position) & 1) != 0 ? flag : 0;
    }
}
