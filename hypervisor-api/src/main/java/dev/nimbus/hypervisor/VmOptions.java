package dev.nimbus.hypervisor;

import dev.nimbus.hypervisor.x86.InstructionEmulator;

import java.util.Optional;

/**
 * How to create a VM.
 *
 * @param ipaBits             the guest physical address width to ask for (AArch64 {@code KVM_CREATE_VM} takes
 *                            it); 0 means the hypervisor's default
 * @param instructionEmulator the x86 MMIO instruction emulator, for a backend whose hypervisor leaves MMIO
 *                            instructions to user space (MSHV); {@code null} when the platform has none. The
 *                            arch platform supplies it ({@code ArchPlatform.vmOptions()})
 */
public record VmOptions(int ipaBits, InstructionEmulator instructionEmulator) {
    public VmOptions {
        if (ipaBits < 0 || ipaBits > 64) {
            throw new IllegalArgumentException("ipaBits out of range: " + ipaBits);
        }
    }

    public VmOptions(int ipaBits) {
        this(ipaBits, null);
    }

    public static VmOptions defaults() {
        return new VmOptions(0);
    }

    /** These options with {@code emulator} as the MMIO instruction emulator. */
    public VmOptions withInstructionEmulator(InstructionEmulator emulator) {
        return new VmOptions(ipaBits, emulator);
    }

    /** The MMIO instruction emulator, when the platform supplied one. */
    public Optional<InstructionEmulator> emulator() {
        return Optional.ofNullable(instructionEmulator);
    }
}
