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
 *       {@code movsxd} ({@code 63});</li>
 *   <li>{@code add}, {@code or}, {@code adc}, {@code sbb}, {@code and}, {@code sub}, {@code xor}, {@code cmp} with a
 *       memory operand, either way round ({@code 00}-{@code 3b}) or with an immediate ({@code 80}-{@code 83}),
 *       and {@code test} ({@code 84}/{@code 85}, {@code f6}/{@code f7 /0}), flags as {@link Alu} computes them;</li>
 *   <li>{@code xchg} of a register with memory ({@code 86}/{@code 87}).</li>
 * </ul>
 *
 * <p>Everything else ends in {@link EmulationResult.CannotEmulate}, before any access or register change: other
 * opcodes, register-only forms (which cannot have caused the intercept), {@code lock} where the CPU raises #UD,
 * {@code f2}/{@code f3} on these non-string instructions (reserved in the SDM; no guess at what a CPU does),
 * instructions longer than 15 bytes or than the bytes given. Segment overrides are decoded and ignored: the
 * intercept's address is already physical. A locked read-modify-write is a read then a write on the bus,
 * which is all a device register can see of it.
 *
 * <p>The string instructions ({@code movs}, {@code stos}, with REP) are not emulated yet: they need the guest's
 * virtual-to-physical translation for the operand that is not the intercept's.
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
        execute(decoded, registers, gpa, mmio);
        long nextRip = registers.rip() + decoded.length();
        if (mode != CpuMode.LONG_64) {
            nextRip &= Alu.mask(mode.defaultOperandSize());
        }
        registers.setRip(nextRip);
        return new EmulationResult.Emulated(nextRip);
    }

    private static void check(Instruction i) throws Refused {
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
