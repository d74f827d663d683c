package dev.nimbus.devices.pci;

import dev.nimbus.devices.bus.BusDevice;

/**
 * PCI Express enhanced configuration access (ECAM, "MMCONFIG"), on the MMIO bus at the layout's
 * {@code pciEcam} window: 4 KiB of configuration space per function, the offset being
 * {@code bus << 20 | device << 15 | function << 12 | register}. The firmware tables (MCFG on x86-64, the
 * device tree's {@code reg} elsewhere) point the guest here.
 */
public final class PciEcam implements BusDevice {
    private final PciRoot root;
    private final int buses;

    /** ECAM for buses 0 to {@code lastBus}; its window is {@link #size()} bytes. */
    public PciEcam(PciRoot root, int lastBus) {
        if (lastBus < 0 || lastBus > 255) {
            throw new IllegalArgumentException("ECAM covers buses 0-255, not up to " + lastBus);
        }
        this.root = root;
        this.buses = lastBus + 1;
    }

    /** Bytes of the ECAM window: 1 MiB per bus. */
    public long size() {
        return (long) buses << 20;
    }

    @Override
    public long read(long offset, int size) {
        if (size == 8) {
            return read(offset, 4) | read(offset + 4, 4) << 32;
        }
        return root.configRead(bus(offset), device(offset), function(offset), register(offset), size);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size == 8) {
            write(offset, 4, value & 0xffff_ffffL);
            write(offset + 4, 4, value >>> 32);
            return;
        }
        root.configWrite(bus(offset), device(offset), function(offset), register(offset), size, value);
    }

    private static int bus(long offset) {
        return (int) (offset >>> 20) & 0xff;
    }

    private static int device(long offset) {
        return (int) (offset >>> 15) & 0x1f;
    }

    private static int function(long offset) {
        return (int) (offset >>> 12) & 0x7;
    }

    private static int register(long offset) {
        return (int) offset & 0xfff;
    }

    @Override
    public String name() {
        return "PCI ECAM";
    }
}
