package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.hypervisor.x86.InstructionEmulator;

/**
 * {@link MmioEmulator} as the SPI's {@link InstructionEmulator}: what the x86-64 platform hands a backend
 * (through {@code VmOptions}) whose hypervisor leaves MMIO instructions to user space. Stateless; one
 * instance serves every vCPU.
 */
public final class MmioInstructionEmulator implements InstructionEmulator {
    public static final MmioInstructionEmulator INSTANCE = new MmioInstructionEmulator();

    private MmioInstructionEmulator() {}

    @Override
    public Outcome emulate(byte[] instruction, int count, CodeMode mode, Registers registers, long gpa, Memory memory) {
        CpuMode cpuMode = switch (mode) {
            case LONG_64 -> CpuMode.LONG_64;
            case PROTECTED_32 -> CpuMode.PROTECTED_32;
            case PROTECTED_16 -> CpuMode.PROTECTED_16;
        };
        return switch (MmioEmulator.emulate(instruction, count, cpuMode, registers, gpa, memory)) {
            case EmulationResult.Emulated e -> new Outcome.Emulated(e.nextRip());
            case EmulationResult.CannotEmulate c -> new Outcome.CannotEmulate(c.message());
        };
    }
}
