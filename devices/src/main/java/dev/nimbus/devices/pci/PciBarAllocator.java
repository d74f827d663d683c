package dev.nimbus.devices.pci;

import dev.nimbus.hypervisor.memory.AddressRange;

/**
 * Hands out naturally aligned BAR addresses from the arch layout's PCI windows
 * ({@code MachineLayout.mmio32()} and {@code mmio64()}): 32-bit BARs below 4 GiB, 64-bit BARs above RAM
 * (or below 4 GiB when there is no 64-bit window). Addresses are never given back: BARs are assigned once,
 * when the machine is assembled.
 */
public final class PciBarAllocator {
    private final AddressRange mmio32;
    private final AddressRange mmio64;
    private long next32;
    private long next64;

    public PciBarAllocator(AddressRange mmio32, AddressRange mmio64) {
        if (mmio32.end() > 1L << 32) {
            throw new IllegalArgumentException("the 32-bit PCI window " + mmio32 + " reaches past 4 GiB");
        }
        this.mmio32 = mmio32;
        this.mmio64 = mmio64;
        this.next32 = mmio32.base();
        this.next64 = mmio64.base();
    }

    /** A base for a BAR of {@code size} bytes (a power of two), aligned to its size. */
    public synchronized long allocate(long size, boolean is64) {
        if (Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("a BAR size is a power of two: 0x" + Long.toHexString(size));
        }
        if (is64 && mmio64.size() > 0) {
            long base = align(next64, size);
            if (base + size <= mmio64.end()) {
                next64 = base + size;
                return base;
            }
        }
        long base = align(next32, size);
        if (base + size > mmio32.end()) {
            throw new IllegalStateException(String.format("no room for a 0x%x-byte BAR in the PCI windows %s and %s",
                    size, mmio32, mmio64));
        }
        next32 = base + size;
        return base;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
