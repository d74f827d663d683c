package dev.nimbus.devices.bus;

/** The two spaces a device can sit in: x86 port I/O and memory-mapped I/O. */
public enum AddressSpace {
    /** x86 I/O ports, 0x0000 to 0xffff. */
    PIO(0x1_0000L, "port"),
    /** Guest physical addresses that are not RAM. */
    MMIO(Long.MAX_VALUE, "address");

    private final long limit;
    private final String noun;

    AddressSpace(long limit, String noun) {
        this.limit = limit;
        this.noun = noun;
    }

    /** One past the highest address of this space. */
    public long limit() {
        return limit;
    }

    /** How a message names one address of this space ("port 0x3f8", "address 0xfed00000"). */
    public String describe(long address) {
        return noun + " 0x" + Long.toHexString(address);
    }

    /** How a message names a range of this space ("ports 0x3f8-0x3ff"). */
    public String describe(long base, long length) {
        return noun + "s 0x" + Long.toHexString(base) + "-0x" + Long.toHexString(base + length - 1);
    }
}
