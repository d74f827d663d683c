package dev.nimbus.devices.pci;

import dev.nimbus.devices.bus.BusDevice;

/**
 * PCI configuration mechanism #1 on x86: the address register at port 0xcf8 and the data window at
 * 0xcfc-0xcff, one device of {@value #PORTS} ports at {@value #BASE}. The address register holds the
 * enable bit (31), bus (23:16), device (15:11), function (10:8) and the dword register (7:2); a data access
 * at 0xcfc + n reaches byte n of that dword. With the enable bit clear, data reads give all ones.
 */
public final class PciConfigIo implements BusDevice {
    public static final int BASE = 0xcf8;
    public static final int PORTS = 8;
    private static final int ENABLE = 1 << 31;

    private final PciRoot root;
    private int address;

    public PciConfigIo(PciRoot root) {
        this.root = root;
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset < 4) {
            return offset == 0 && size == 4 ? address & 0xffff_ffffL : 0xffff_ffffL >>> (32 - 8 * size);
        }
        if ((address & ENABLE) == 0) {
            return -1L;
        }
        return root.configRead(bus(), device(), function(), register(offset), size);
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset < 4) {
            if (offset == 0 && size == 4) {
                address = (int) value & 0x80ff_fffc; // register bits 1:0 read as zero
            }
            return;
        }
        if ((address & ENABLE) != 0) {
            root.configWrite(bus(), device(), function(), register(offset), size, value);
        }
    }

    private int bus() {
        return (address >>> 16) & 0xff;
    }

    private int device() {
        return (address >>> 11) & 0x1f;
    }

    private int function() {
        return (address >>> 8) & 0x7;
    }

    private int register(long offset) {
        return (address & 0xfc) + (int) (offset - 4);
    }

    @Override
    public String name() {
        return "PCI config ports";
    }
}
