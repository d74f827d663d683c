package dev.nimbus.devices.interrupt;

import dev.nimbus.hypervisor.IrqChip;

/**
 * An {@link IrqLine} on one global system interrupt of the VM's in-kernel interrupt controller
 * ({@link IrqChip#setIrqLine}). The level is passed as is, so it serves level- and edge-triggered
 * inputs alike: an edge-triggered IOAPIC pin sees the rising edge of each {@code set(true)} that follows
 * a {@code set(false)}.
 */
public final class IrqChipLine implements IrqLine {
    private final IrqChip chip;
    private final int gsi;

    public IrqChipLine(IrqChip chip, int gsi) {
        if (gsi < 0) {
            throw new IllegalArgumentException("an interrupt line needs a GSI >= 0, got " + gsi);
        }
        this.chip = chip;
        this.gsi = gsi;
    }

    public int gsi() {
        return gsi;
    }

    @Override
    public void set(boolean high) {
        chip.setIrqLine(gsi, high);
    }

    @Override
    public String toString() {
        return "GSI " + gsi;
    }
}
