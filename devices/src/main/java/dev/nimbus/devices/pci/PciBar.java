package dev.nimbus.devices.pci;

import dev.nimbus.devices.bus.BusDevice;

/**
 * One memory BAR of a {@link PciDevice}: register {@code index} (and {@code index + 1} when 64-bit),
 * {@code size} bytes (a power of two), and the device that answers accesses to it, at offsets from the
 * BAR's start.
 */
public record PciBar(int index, long size, boolean is64, boolean prefetchable, BusDevice region) {
    public PciBar {
        if (size < 16 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("a BAR size is a power of two of at least 16: 0x" + Long.toHexString(size));
        }
    }
}
