package dev.nimbus.hypervisor;

/** Optional hypervisor features that the VMM checks before relying on them. */
public enum Capability {
    /** An eventfd can raise a guest interrupt without a trip through user space ({@link Vm#registerIrqfd}). */
    IRQFD,
    /** A guest write to an address can signal an eventfd instead of exiting ({@link Vm#registerIoeventfd}). */
    IOEVENTFD,
    /** Interrupt routes, MSI included, can be installed ({@link Vm#setGsiRouting}). */
    GSI_ROUTING,
    /** An MSI can be injected directly ({@link IrqChip#signalMsi}). */
    SIGNAL_MSI,
    /** Memory slots can be read-only, turning guest writes into MMIO exits. */
    READONLY_MEMORY,
    /** Pages written by the guest can be tracked ({@link Vm#dirtyLog}). */
    DIRTY_LOG,
    /** A vCPU can be made to leave its run loop promptly from another thread ({@link Vcpu#kick}). */
    IMMEDIATE_EXIT,
    /** x86-64: the hypervisor can emulate the IOAPIC and PIC itself ({@link IrqChipConfig.X86Legacy}). */
    IN_KERNEL_IOAPIC,
    /**
     * x86-64: the hypervisor can keep the local APICs and leave the IOAPIC to the VMM
     * ({@link IrqChipConfig.X86Split}), reporting level-triggered EOIs as {@link VcpuExit.IoapicEoi}.
     */
    SPLIT_IRQCHIP,
}
