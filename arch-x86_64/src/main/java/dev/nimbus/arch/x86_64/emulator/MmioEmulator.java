package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.hypervisor.x86.InstructionEmulator;

import java.util.HexFormat;

/**
 * Emulates the instruction that made an MMIO access, for a backend whose hypervisor stops at the access
 * instead of completing it (Microsoft Hypervisor's memory intercept).
 *
 * <p>Given the instruction bytes the intercept carries, the vCPU's mode and registers and the guest physical
 * address the access went to, it performs the access through {@link MmioAccess}, writes the destination
 * register and RFLAGS, and advances RIP past the instruction. It handles:
 * <ul>
 *   <li>{@code mov} register to memory and back ({@code 88}-{@code 8b}), immediate to memory
 *       ({@code c6}/{@code c7 /0}), and the {@code moffs} forms ({@code a0}-{@code a3});</li>
 *   <li>{@code movzx} and {@code movsx} ({@code 0f b6}, {@code b7}, {@code be}, {@code bf}) and, in 64-bit mode,
 *       {@code movsxd} ({@code 63}) at 32 and 64 bits (at 16, with {@code 66}, Intel reads a word and AMD a
 *       doubleword, so it is refused);</li>
 *   <li>{@code add}, {@code or}, {@code adc}, {@code sbb}, {@code and}, {@code sub}, {@code xor}, {@code cmp} with a
 *       memory operand, either way round ({@code 00}-{@code 3b}) or with an immediate ({@code 80}-{@code 83}),
 *       and {@code test} ({@code 84}/{@code 85}, {@code f6}/{@code f7 /0}), flags as {@link Alu} computes them;</li>
 *   <li>{@code xchg} of a register with memory ({@code 86}/{@code 87});</li>
 *   <li>{@code movs} and {@code stos} ({@code a4}/{@code a5}, {@code aa}/{@code ab}), with or without {@code rep}
 *       ({@code f3}), stepping by RFLAGS.DF, their other addresses through the backend's translation.</li>
 * </ul>
 *
 * <p>Everything else ends in {@link EmulationResult.CannotEmulate}, before any access or register change: other
 * opcodes, register-only forms (which cannot have caused the intercept), {@code lock} where the CPU raises #UD,
 * {@code f2}/{@code f3} on the non-string instructions and {@code f2} on the string ones (reserved in the SDM; no guess at what a CPU does),
 * instructions longer than 15 bytes or than the bytes given. Segment overrides are decoded and ignored: the
 * intercept's address is already physical. A locked read-modify-write is a read then a write on the bus,
 * which is all a device register can see of it.
 */
public final class MmioEmulator {
    private static final HexFormat HEX = HexFormat.ofDelimiter(" ");

    private MmioEmulator() {}

    /**
     * Emulates the instruction in the first {@code count} of {@code instruction}, fetched at the current RIP
     * in {@code mode}, whose memory access went to {@code gpa}.
     */
    public static EmulationResult emulate(byte[] instruction, int count, CpuMode mode, InstructionEmulator.Registers registers, long gpa, InstructionEmulator.Memory mmio) {
        Instruction decoded;
        try {
            decoded = InstructionDecoder.decode(instruction, count, mode);
            check(decoded);
        } catch (Refused r) {
            int shown = Math.min(r.bytesSeen(), count);
            String bytes = shown == 0 ? "<no instruction bytes>" : HEX.formatHex(instruction, 0, shown);
            return new EmulationResult.CannotEmulate(String.format("cannot emulate %s at rip 0x%x: %s", bytes, registers.rip(), r.getMessage()));
        }
        if (InstructionDecoder.isString(decoded.opcode())) {
            boolean complete;
            try {
                complete = string(decoded, registers, gpa, mmio);
            } catch (Refused r) {
                return new EmulationResult.CannotEmulate(String.format("cannot emulate %s at rip 0x%x: %s",
                        HEX.formatHex(instruction, 0, decoded.length()), registers.rip(), r.getMessage()));
            }
            if (!complete) {
                return new EmulationResult.Emulated(registers.rip()); // the guest executes the rest again
            }
        } else {
            execute(decoded, registers, gpa, mmio);
        }
        long nextRip = registers.rip() + decoded.length();
        if (mode != CpuMode.LONG_64) {
            nextRip &= Alu.mask(mode.defaultOperandSize());
        }
        registers.setRip(nextRip);
        return new EmulationResult.Emulated(nextRip);
    }

    private static void check(Instruction i) throws Refused {
        if (InstructionDecoder.isString(i.opcode())) {
            if (i.lock()) {
                throw new Refused("a lock prefix on a string instruction (#UD on the CPU)", i.length());
            }
            if (i.repeat() == 0xf2) {
                throw new Refused("an f2 (repne) prefix on movs/stos, which the SDM does not define", i.length());
            }
            return;
        }
        if (i.memory() == null) {
            throw new Refused("a register operand, no memory access to emulate", i.length());
        }
        if (i.repeat() != 0) {
            throw new Refused(String.format("a %02x prefix on a non-string instruction", i.repeat()), i.length());
        }
        if (i.lock() && !lockable(i)) {
            throw new Refused("a lock prefix on an instruction that cannot take one (#UD on the CPU)", i.length());
        }
    }

    /** The read-modify-write forms with a memory destination, which alone take {@code lock} (SDM, LOCK). */
    private static boolean lockable(Instruction i) {
        int op = i.opcode();
        if (op <= 0x3b) {
            return (op & 2) == 0 && Alu.Operation.group1(op >> 3) != Alu.Operation.CMP;
        }
        return switch (op) {
            case 0x80, 0x81, 0x82, 0x83 -> Alu.Operation.group1(i.reg()) != Alu.Operation.CMP;
            case 0x86, 0x87 -> true;
            default -> false;
        };
    }

    private static void execute(Instruction i, InstructionEmulator.Registers registers, long gpa, InstructionEmulator.Memory mmio) {
        int size = i.operandSize();
        int memorySize = i.memorySize();
        int op = i.opcode();
        switch (op) {
            case 0x88, 0x89, 0xa2, 0xa3 -> mmio.write(gpa, size, register(registers, i.reg(), size, i.rex()));
            case 0x8a, 0x8b, 0xa0, 0xa1 -> setRegister(registers, i.reg(), size, i.rex(), mmio.read(gpa, size));
            case 0xc6, 0xc7 -> mmio.write(gpa, size, i.immediate() & Alu.mask(size));
            case 0x0fb6, 0x0fb7 -> setRegister(registers, i.reg(), size, i.rex(), mmio.read(gpa, memorySize) & Alu.mask(memorySize));
            case 0x0fbe, 0x0fbf, 0x63 -> setRegister(registers, i.reg(), size, i.rex(), signExtend(mmio.read(gpa, memorySize), memorySize));
            case 0x86, 0x87 -> {
                long old = mmio.read(gpa, size);
                mmio.write(gpa, size, register(registers, i.reg(), size, i.rex()));
                setRegister(registers, i.reg(), size, i.rex(), old);
            }
            case 0x84, 0x85 -> memoryDestination(Alu.Operation.TEST, i, registers, gpa, mmio, register(registers, i.reg(), size, i.rex()));
            case 0xf6, 0xf7 -> memoryDestination(Alu.Operation.TEST, i, registers, gpa, mmio, i.immediate());
            case 0x80, 0x81, 0x82, 0x83 -> memoryDestination(Alu.Operation.group1(i.reg()), i, registers, gpa, mmio, i.immediate());
            default -> {
                Alu.Operation operation = Alu.Operation.group1(op >> 3);
                long source = register(registers, i.reg(), size, i.rex());
                if ((op & 2) == 0) {
                    memoryDestination(operation, i, registers, gpa, mmio, source);
                } else {
                    long value = mmio.read(gpa, size);
                    long rflags = registers.rflags();
                    if (operation.writesResult()) {
                        setRegister(registers, i.reg(), size, i.rex(), Alu.result(operation, size, source, value, (rflags & Alu.CF) != 0));
                    }
                    registers.setRflags(Alu.flags(operation, size, source, value, rflags));
                }
            }
        }
    }

    /**
     * {@code movs} and {@code stos}, with REP: each iteration moves one element to ES:rDI (from DS:rSI, or the
     * segment an override names, for {@code movs}; from the accumulator for {@code stos}), steps rDI (and rSI)
     * by the element size, down when RFLAGS.DF is set, and with REP counts rCX down to zero; the registers at
     * the address size (16-bit ones merge, 32-bit ones zero-extend, as the CPU writes them). Every address but
     * the first {@code stos} destination, which is the intercept's, comes from {@link InstructionEmulator.Memory#translate}.
     * Stops early, with the registers describing what is left and RIP still at the instruction, when an address
     * cannot be translated or after {@link #MAX_ITERATIONS} (so a huge rCX cannot hold the vCPU thread): the
     * guest executes the instruction again, as it does after an interrupt taken mid-REP. Refuses, with
     * nothing done, when the first iteration's addresses cannot be had or the intercept's address is neither.
     *
     * @return whether the instruction is complete (RIP is to advance)
     */
    private static boolean string(Instruction i, InstructionEmulator.Registers registers, long gpa,
                                  InstructionEmulator.Memory memory) throws Refused {
        boolean movs = i.opcode() == 0xa4 || i.opcode() == 0xa5;
        int size = i.operandSize();
        int addressSize = i.addressSize();
        long addressMask = Alu.mask(addressSize);
        boolean rep = i.repeat() == 0xf3;
        long count = rep ? registers.gpr(Registers.RCX) & addressMask : 1;
        long step = (registers.rflags() & DF) != 0 ? -size : size;
        int sourceSegment = i.segment() == 0 ? InstructionEmulator.Memory.DS : segmentIndex(i.segment());
        long done = 0;
        while (done < count && done < MAX_ITERATIONS) {
            long di = registers.gpr(Registers.RDI) & addressMask;
            long si = registers.gpr(Registers.RSI) & addressMask;
            long destination = !movs && done == 0 ? gpa : memory.translate(InstructionEmulator.Memory.ES, di, size, true);
            long source = movs ? memory.translate(sourceSegment, si, size, false) : 0;
            if (destination == -1 || source == -1) {
                if (done == 0) {
                    throw new Refused(String.format("%s needs the guest physical address of %s, which this backend cannot translate here",
                            movs ? "movs" : "stos", destination == -1 ? String.format("es:0x%x", di)
                                    : String.format("%s:0x%x", SEGMENT_NAMES[sourceSegment], si)), i.length());
                }
                return false;
            }
            if (done == 0 && movs && destination != gpa && source != gpa) {
                throw new Refused(String.format("the intercept's address 0x%x is neither operand (source 0x%x, destination 0x%x)",
                        gpa, source, destination), i.length());
            }
            long value = movs ? memory.read(source, size) & Alu.mask(size) : registers.gpr(Registers.RAX) & Alu.mask(size);
            memory.write(destination, size, value);
            setRegister(registers, Registers.RDI, addressSize, true, di + step);
            if (movs) {
                setRegister(registers, Registers.RSI, addressSize, true, si + step);
            }
            if (rep) {
                setRegister(registers, Registers.RCX, addressSize, true, (registers.gpr(Registers.RCX) & addressMask) - 1);
            }
            done++;
        }
        return done == count;
    }

    /** The iterations of a REP string instruction one call makes at most; the guest re-executes for the rest. */
    static final int MAX_ITERATIONS = 4096;
    /** RFLAGS.DF: string instructions step down. */
    static final long DF = 0x400;
    private static final String[] SEGMENT_NAMES = {"es", "cs", "ss", "ds", "fs", "gs"};

    /** The segment register a segment-override prefix names, in encoding order (ES 0 .. GS 5). */
    private static int segmentIndex(int prefix) {
        return switch (prefix) {
            case 0x26 -> InstructionEmulator.Memory.ES;
            case 0x2e -> InstructionEmulator.Memory.CS;
            case 0x36 -> InstructionEmulator.Memory.SS;
            case 0x3e -> InstructionEmulator.Memory.DS;
            case 0x64 -> InstructionEmulator.Memory.FS;
            default -> InstructionEmulator.Memory.GS;
        };
    }

    private static void memoryDestination(Alu.Operation operation, Instruction i, InstructionEmulator.Registers registers, long gpa, InstructionEmulator.Memory mmio, long source) {
        int size = i.operandSize();
        long value = mmio.read(gpa, size);
        long rflags = registers.rflags();
        if (operation.writesResult()) {
            mmio.write(gpa, size, Alu.result(operation, size, value, source, (rflags & Alu.CF) != 0));
        }
        registers.setRflags(Alu.flags(operation, size, value, source, rflags));
    }

    /**
     * Register {@code index} at {@code size} bytes. Without a REX prefix byte registers 4 to 7 are AH, CH,
     * DH and BH, bits 8 to 15 of registers 0 to 3; with one they are SPL, BPL, SIL and DIL.
     */
    static long register(InstructionEmulator.Registers registers, int index, int size, boolean rex) {
        if (size == 1 && !rex && index >= 4 && index < 8) {
            return (registers.gpr(index - 4) >>> 8) & 0xff;
        }
        return registers.gpr(index) & Alu.mask(size);
    }

    /** Writes register {@code index} as the CPU does: 8- and 16-bit writes merge, 32-bit writes zero-extend. */
    static void setRegister(InstructionEmulator.Registers registers, int index, int size, boolean rex, long value) {
        if (size == 1 && !rex && index >= 4 && index < 8) {
            long old = registers.gpr(index - 4);
            registers.setGpr(index - 4, (old & ~0xff00L) | ((value & 0xff) << 8));
            return;
        }
        long merged = switch (size) {
            case 1 -> (registers.gpr(index) & ~0xffL) | (value & 0xff);
            case 2 -> (registers.gpr(index) & ~0xffffL) | (value & 0xffff);
            case 4 -> value & 0xffffffffL;
            default -> value;
        };
        registers.setGpr(index, merged);
    }

    private static long signExtend(long value, int size) {
        int shift = 64 - 8 * size;
        return value << shift >> shift;
    }
}
