package dev.nimbus.devices.pci;

import java.util.List;

/**
 * A PCI function as the {@link PciRoot} sees it: its configuration space and the memory BARs it decodes.
 * The root declares the BARs in configuration space, assigns their first addresses and maps each BAR's
 * {@link PciBar#region()} on the MMIO bus wherever the guest moves it; the function never learns where.
 */
public interface PciDevice {
    /** The function's configuration space; the root reads and writes it under its own lock. */
    PciConfigSpace config();

    /** The memory BARs, fixed for the function's lifetime. */
    List<PciBar> bars();

    /**
     * The guest's read of configuration space; {@link PciConfigSpace#read} unless the function has
     * registers whose value is computed on access (a window onto a BAR, say).
     */
    default long readConfig(int offset, int size) {
        return config().read(offset, size);
    }

    /** Called after each guest write to configuration space at {@code [offset, offset+size)}. */
    default void configWritten(int offset, int size) {}

    /**
     * A restore replaced the guest-writable bits of configuration space ({@link PciRoot#restoreState}), before
     * the guest runs: a function that keeps state derived from them (MSI-X enable and mask) takes it again.
     */
    default void configRestored() {}

    /** A short name for messages. */
    default String name() {
        return getClass().getSimpleName();
    }
}
