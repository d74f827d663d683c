package dev.nimbus.devices.pci;

/**
 * The 256-byte configuration space of one PCI function (type 0 header), with per-bit write masks: a bit
 * the guest may not change keeps its value whatever is written, so read-only IDs, BAR sizing (PCI Local
 * Bus 3.0, 6.2.5.1: the size bits of a BAR read back as zero after an all-ones write) and hardwired flag
 * bits all fall out of the mask. The extended space of PCI Express (0x100-0xfff, reached through ECAM)
 * reads as zero: a function with no extended capabilities.
 *
 * <p>Not synchronized: the {@link PciRoot} serializes configuration accesses.
 */
public final class PciConfigSpace {
    public static final int SIZE = 256;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    /** Command register: the function decodes its memory BARs. */
    public static final int COMMAND_MEMORY = 1 << 1;
    /** Command register: the function may master the bus (DMA, MSI writes). */
    public static final int COMMAND_BUS_MASTER = 1 << 2;
    /** Command register: legacy INTx is disabled. */
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    /** Status register: there is a capability list. */
    public static final int STATUS_CAPABILITIES = 1 << 4;

    public static final int BAR_MEMORY_64 = 0b100;
    public static final int BAR_PREFETCHABLE = 0b1000;

    private static final int FIRST_CAPABILITY = 0x40;

    private final byte[] bytes = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private int lastCapability = -1;
    private int nextCapability = FIRST_CAPABILITY;

    /**
     * A type 0 header for {@code vendor:device} of class {@code classCode} (base class, sub-class and
     * programming interface, 24 bits). The command register's memory, bus-master and INTx-disable bits
     * and the interrupt-line register are writable; all else is read-only until a BAR or capability is
     * added.
     */
    public PciConfigSpace(int vendor, int device, int classCode, int revision, int subsystemVendor, int subsystemId) {
        set16(VENDOR_ID, vendor);
        set16(DEVICE_ID, device);
        set8(REVISION, revision);
        set8(CLASS_PROG, classCode);
        set8(CLASS_PROG + 1, classCode >>> 8);
        set8(CLASS_PROG + 2, classCode >>> 16);
        set16(SUBSYSTEM_VENDOR_ID, subsystemVendor);
        set16(SUBSYSTEM_ID, subsystemId);
        setWritable(COMMAND, 2, COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE);
        setWritable(INTERRUPT_LINE, 1, 0xff);
    }

    /** The guest's read of {@code size} (1, 2 or 4) bytes at {@code offset}; zero past the standard header. */
    public long read(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at >= 0 && at < SIZE) {
                v |= (bytes[at] & 0xffL) << (8 * i);
            }
        }
        return v;
    }

    /** The guest's write: only the bits the write mask allows change. */
    public void write(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at < 0 || at >= SIZE) {
                continue;
            }
            int mask = writable[at] & 0xff;
            int b = (int) (value >>> (8 * i)) & 0xff;
            bytes[at] = (byte) ((bytes[at] & ~mask) | (b & mask));
        }
    }

    /** Sets a byte as the device (not the guest) sees fit, ignoring the write mask. */
    public void set8(int offset, int value) {
        bytes[offset] = (byte) value;
    }

    public void set16(int offset, int value) {
        set8(offset, value);
        set8(offset + 1, value >>> 8);
    }

    public void set32(int offset, int value) {
        set16(offset, value);
        set16(offset + 2, value >>> 16);
    }

    public int get8(int offset) {
        return bytes[offset] & 0xff;
    }

    public int get16(int offset) {
        return get8(offset) | get8(offset + 1) << 8;
    }

    public int get32(int offset) {
        return get16(offset) | get16(offset + 2) << 16;
    }

    /** The 256 bytes as they are now, for a saved state. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /**
     * Where {@code saved} (256 bytes) differs from this space in a bit the guest cannot write, or -1 where it
     * could be this function's: a saved space whose IDs, BAR types or capabilities differ is another function's.
     */
    public int firstReadOnlyDifference(byte[] saved) {
        if (saved.length != SIZE) {
            return Math.min(saved.length, SIZE);
        }
        for (int at = 0; at < SIZE; at++) {
            if (((saved[at] ^ bytes[at]) & ~writable[at]) != 0) {
                return at;
            }
        }
        return -1;
    }

    /** Takes the guest-writable bits of {@code saved} (256 bytes): what the guest wrote, BAR addresses included. */
    public void restoreWritable(byte[] saved) {
        for (int at = 0; at < SIZE; at++) {
            bytes[at] = (byte) ((bytes[at] & ~writable[at]) | (saved[at] & writable[at]));
        }
    }

    /** Lets the guest change the bits of {@code mask} in the {@code size} bytes at {@code offset}. */
    public void setWritable(int offset, int size, long mask) {
        for (int i = 0; i < size; i++) {
            writable[offset + i] = (byte) (mask >>> (8 * i));
        }
    }

    /**
     * Declares memory BAR {@code index} of {@code size} bytes (a power of two, at least 16). A 64-bit BAR
     * also takes register {@code index + 1}. The address bits below the size are hardwired to zero, so the
     * all-ones sizing write reads back as the size mask with the type bits.
     */
    public void addMemoryBar(int index, long size, boolean is64, boolean prefetchable) {
        if (size < 16 || Long.bitCount(size) != 1 || (!is64 && size > 1L << 31)) {
            throw new IllegalArgumentException("a memory BAR is a power of two of at least 16 bytes (below 4 GiB unless 64-bit): 0x"
                    + Long.toHexString(size));
        }
        if (index < 0 || index > (is64 ? 4 : 5)) {
            throw new IllegalArgumentException("no BAR register " + index + (is64 ? " for a 64-bit BAR" : ""));
        }
        int flags = (is64 ? BAR_MEMORY_64 : 0) | (prefetchable ? BAR_PREFETCHABLE : 0);
        int at = BAR0 + 4 * index;
        long addressMask = ~(size - 1);
        set32(at, flags);
        setWritable(at, 4, addressMask & 0xffff_fff0L);
        if (is64) {
            set32(at + 4, 0);
            setWritable(at + 4, 4, addressMask >>> 32);
        }
    }

    /** The address BAR {@code index} holds (both halves of a 64-bit BAR), type bits cleared. */
    public long barAddress(int index, boolean is64) {
        int at = BAR0 + 4 * index;
        long low = get32(at) & 0xffff_fff0L;
        return is64 ? low | (long) get32(at + 4) << 32 : low;
    }

    /** Puts {@code address} into BAR {@code index}, as firmware would when it assigns the BAR. */
    public void setBarAddress(int index, boolean is64, long address) {
        int at = BAR0 + 4 * index;
        set32(at, (int) ((address & 0xffff_fff0L) | (get32(at) & 0xf)));
        if (is64) {
            set32(at + 4, (int) (address >>> 32));
        }
    }

    /**
     * Appends a capability to the list: {@code body} is the capability from its ID byte on (the next
     * pointer, byte 1, is filled in here). Returns its offset in configuration space. Its bytes are
     * read-only to the guest until made writable with {@link #setWritable}.
     */
    public int addCapability(byte[] body) {
        int at = nextCapability;
        int length = (body.length + 3) & ~3;
        if (body.length < 2 || at + length > SIZE) {
            throw new IllegalArgumentException("capability of " + body.length + " bytes does not fit in configuration space");
        }
        for (int i = 0; i < body.length; i++) {
            bytes[at + i] = body[i];
        }
        bytes[at + 1] = 0;
        if (lastCapability < 0) {
            set8(CAPABILITIES_POINTER, at);
            set16(STATUS, get16(STATUS) | STATUS_CAPABILITIES);
        } else {
            set8(lastCapability + 1, at);
        }
        lastCapability = at;
        nextCapability = at + length;
        return at;
    }
}
