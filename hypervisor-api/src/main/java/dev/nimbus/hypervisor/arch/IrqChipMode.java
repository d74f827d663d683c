package dev.nimbus.hypervisor.arch;

/**
 * Where the user wants a machine's interrupt controllers ({@code --platform irqchip=...}); the arch platform
 * turns it into an {@link dev.nimbus.hypervisor.IrqChipConfig} for the hypervisor at hand
 * ({@link ArchPlatform#interruptController(MachineLayout, int, IrqChipMode, java.util.Set)}).
 */
public enum IrqChipMode {
    /** The machine model's choice for this hypervisor: in the kernel where it can, else what it offers. */
    AUTO,
    /** Every interrupt controller in the hypervisor (x86-64: KVM's in-kernel PIC, IOAPIC and PIT). */
    KERNEL,
    /** x86-64: the local APICs in the hypervisor, the IOAPIC in the VMM, no PIC and no PIT. */
    SPLIT
}
