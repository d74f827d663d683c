package dev.nimbus.arch.x86_64.emulator;

/**
 * Decodes the instructions {@link MmioEmulator} can emulate from their bytes (Intel SDM volume 2, chapter 2):
 * legacy prefixes, REX, one- and two-byte opcodes, ModRM, SIB, displacement, immediate.
 *
 * <p>Only the opcodes it emulates are decoded; for any other the length is unknown and the decoder stops
 * at the opcode, which is what the refusal names. The prefix rules are the CPU's: prefixes in any order, the
 * last of a group counting; a REX prefix counts only directly before the opcode (one followed by a legacy
 * prefix is ignored, as the CPU ignores it); an instruction over 15 bytes is refused, as the CPU raises #GP.
 */
final class InstructionDecoder {
    /** The architectural limit on an instruction's length. */
    static final int MAX_LENGTH = 15;

    private final byte[] bytes;
    private final int count;
    private int position;

    private InstructionDecoder(byte[] bytes, int count) {
        this.bytes = bytes;
        this.count = count;
    }

    /** Decodes the instruction at the start of the first {@code count} of {@code bytes}. */
    static Instruction decode(byte[] bytes, int count, CpuMode mode) throws Refused {
        if (count < 0 || count > bytes.length) {
            throw new IllegalArgumentException("count " + count + " outside the " + bytes.length + " bytes given");
        }
        return new InstructionDecoder(bytes, count).decode(mode);
    }

    private Instruction decode(CpuMode mode) throws Refused {
        boolean operandOverride = false;
        boolean addressOverride = false;
        boolean lock = false;
        int repeat = 0;
        int segment = 0;
        int rex = 0;
        boolean rexPresent = false;
        int b;
        while (true) {
            b = next();
            if (isLegacyPrefix(b)) {
                switch (b) {
                    case 0x66 -> operandOverride = true;
                    case 0x67 -> addressOverride = true;
                    case 0xf0 -> lock = true;
                    case 0xf2, 0xf3 -> repeat = b;
                    default -> segment = b;
                }
                rex = 0;
                rexPresent = false;
            } else if (mode == CpuMode.LONG_64 && (b & 0xf0) == 0x40) {
                rex = b;
                rexPresent = true;
            } else {
                break;
            }
        }
        int opcode = b;
        if (opcode == 0x0f) {
            opcode = 0x0f00 | next();
        }
        boolean rexW = (rex & 8) != 0;
        int addressSize = addressOverride ? mode.overriddenAddressSize() : mode.defaultAddressSize();
        int fullSize = rexW ? 8 : operandOverride ? 6 - mode.defaultOperandSize() : mode.defaultOperandSize();

        int operandSize;
        int memorySize;
        int immediateSize = 0;
        boolean modrm = true;
        switch (opcode) {
            case 0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x02, 0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a,
                 0x84, 0x86, 0x88, 0x8a -> operandSize = 1;
            case 0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x03, 0x0b, 0x13, 0x1b, 0x23, 0x2b, 0x33, 0x3b,
                 0x85, 0x87, 0x89, 0x8b -> operandSize = fullSize;
            case 0x80, 0xc6, 0xf6 -> {
                operandSize = 1;
                immediateSize = 1;
            }
            case 0x82 -> {
                if (mode == CpuMode.LONG_64) {
                    throw unknown(opcode);
                }
                operandSize = 1;
                immediateSize = 1;
            }
            case 0x81, 0xc7, 0xf7 -> {
                operandSize = fullSize;
                immediateSize = Math.min(fullSize, 4);
            }
            case 0x83 -> {
                operandSize = fullSize;
                immediateSize = 1;
            }
            case 0xa0, 0xa2 -> {
                operandSize = 1;
                modrm = false;
            }
            case 0xa1, 0xa3 -> {
                operandSize = fullSize;
                modrm = false;
            }
            case 0xa4, 0xaa -> {
                operandSize = 1;
                modrm = false;
            }
            case 0xa5, 0xab -> {
                operandSize = fullSize;
                modrm = false;
            }
            case 0x63 -> {
                if (mode != CpuMode.LONG_64) {
                    throw unknown(opcode);
                }
                if (fullSize == 2) {
                    // Intel's SDM reads a word; an AMD EPYC read a doubleword (MovDifferentialTest): no guess at the bus width
                    throw new Refused("movsxd with a 16-bit operand, whose read is 2 bytes on Intel and 4 on AMD", position);
                }
                operandSize = fullSize;
            }
            case 0x0fb6, 0x0fb7, 0x0fbe, 0x0fbf -> operandSize = fullSize;
            default -> throw unknown(opcode);
        }
        memorySize = switch (opcode) {
            case 0x0fb6, 0x0fbe -> 1;
            case 0x0fb7, 0x0fbf -> 2;
            case 0x63 -> 4;
            default -> operandSize;
        };

        int mod = -1;
        int reg = 0;
        MemoryOperand memory;
        if (modrm) {
            int m = next();
            mod = m >> 6;
            reg = ((m >> 3) & 7) | ((rex & 4) << 1);
            if ((opcode == 0xc6 || opcode == 0xc7 || opcode == 0xf6 || opcode == 0xf7) && (reg & 7) != 0) {
                // other members of these groups: xabort/xbegin, not, neg, mul, div..., with other operands
                throw new Refused(String.format("opcode %02x /%d is not one this emulator handles", opcode, reg & 7), position);
            }
            if (mod == 3) {
                memory = null;
            } else if (addressSize == 2) {
                memory = memory16(mod, m & 7);
            } else {
                memory = memory32(mode, mod, m & 7, rex);
            }
        } else if (isString(opcode)) {
            memory = null; // ES:rDI and DS:rSI, implied by the opcode
        } else {
            memory = new MemoryOperand(MemoryOperand.NONE, MemoryOperand.NONE, 1, unsigned(addressSize));
        }
        long immediate = immediateSize == 0 ? 0 : signed(immediateSize);
        return new Instruction(position, opcode, operandSize, addressSize, memorySize, rexPresent, segment, repeat, lock,
                mod, reg, memory, immediate);
    }

    private MemoryOperand memory32(CpuMode mode, int mod, int rm, int rex) throws Refused {
        int base;
        int index = MemoryOperand.NONE;
        int scale = 1;
        if (rm == 4) {
            int sib = next();
            scale = 1 << (sib >> 6);
            int i = ((sib >> 3) & 7) | ((rex & 2) << 2);
            if (i != 4) {
                index = i;
            }
            base = (sib & 7) | ((rex & 1) << 3);
            if ((sib & 7) == 5 && mod == 0) {
                return new MemoryOperand(MemoryOperand.NONE, index, scale, signed(4));
            }
        } else if (rm == 5 && mod == 0) {
            return new MemoryOperand(mode == CpuMode.LONG_64 ? MemoryOperand.RIP : MemoryOperand.NONE, MemoryOperand.NONE, 1, signed(4));
        } else {
            base = rm | ((rex & 1) << 3);
        }
        long displacement = switch (mod) {
            case 1 -> signed(1);
            case 2 -> signed(4);
            default -> 0;
        };
        return new MemoryOperand(base, index, scale, displacement);
    }

    /** The 16-bit forms: fixed base and index pairs, no SIB, {@code mod=00 rm=110} an absolute {@code disp16}. */
    private MemoryOperand memory16(int mod, int rm) throws Refused {
        if (mod == 0 && rm == 6) {
            return new MemoryOperand(MemoryOperand.NONE, MemoryOperand.NONE, 1, unsigned(2));
        }
        int base = switch (rm) {
            case 0, 1, 7 -> Registers.RBX;
            case 2, 3, 6 -> Registers.RBP;
            case 4 -> Registers.RSI;
            default -> Registers.RDI;
        };
        int index = switch (rm) {
            case 0, 2 -> Registers.RSI;
            case 1, 3 -> Registers.RDI;
            default -> MemoryOperand.NONE;
        };
        long displacement = switch (mod) {
            case 1 -> signed(1);
            case 2 -> signed(2);
            default -> 0;
        };
        return new MemoryOperand(base, index, 1, displacement);
    }

    /** {@code movs} ({@code a4}/{@code a5}) and {@code stos} ({@code aa}/{@code ab}): operands implied, REP allowed. */
    static boolean isString(int opcode) {
        return opcode == 0xa4 || opcode == 0xa5 || opcode == 0xaa || opcode == 0xab;
    }

    private static boolean isLegacyPrefix(int b) {
        return switch (b) {
            case 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 -> true;
            default -> false;
        };
    }

    private int next() throws Refused {
        if (position >= MAX_LENGTH) {
            throw new Refused("longer than " + MAX_LENGTH + " bytes (#GP on the CPU)", Math.min(count, MAX_LENGTH));
        }
        if (position >= count) {
            throw new Refused("the instruction runs past the " + count + " bytes given", count);
        }
        return bytes[position++] & 0xff;
    }

    private long unsigned(int size) throws Refused {
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (long) next() << (8 * i);
        }
        return value;
    }

    private long signed(int size) throws Refused {
        long value = unsigned(size);
        int shift = 64 - 8 * size;
        return value << shift >> shift;
    }

    private Refused unknown(int opcode) {
        String name = opcode > 0xff ? String.format("0f %02x", opcode & 0xff) : String.format("%02x", opcode);
        return new Refused("opcode " + name + " is not one this emulator handles", position);
    }
}
