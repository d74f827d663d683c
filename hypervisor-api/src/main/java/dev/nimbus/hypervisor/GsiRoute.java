package dev.nimbus.hypervisor;

/**
 * One entry of a VM's interrupt routing table: what happens when global system interrupt {@code gsi()}
 * is raised (by an irqfd or {@link IrqChip#setIrqLine}). The table is replaced as a whole by
 * {@link Vm#setGsiRouting}.
 */
public sealed interface GsiRoute {
    int gsi();

    /** The GSI drives pin {@code pin} of in-kernel interrupt controller {@code chip} (x86: 0/1 PIC, 2 IOAPIC; else 0). */
    record IrqchipPin(int gsi, int chip, int pin) implements GsiRoute {}

    /** The GSI sends an MSI. */
    record Msi(int gsi, MsiMessage message) implements GsiRoute {}
}
