package dev.nimbus.hypervisor.memory;

/** A range of guest physical addresses: {@code size} bytes from {@code base}. */
public record AddressRange(long base, long size) {
    public AddressRange {
        if (base < 0 || size < 0 || base + size < base) {
            throw new IllegalArgumentException(String.format("bad address range 0x%x+0x%x", base, size));
        }
    }

    /** The first address after the range. */
    public long end() {
        return base + size;
    }

    public boolean contains(long address) {
        return address >= base && address < end();
    }

    public boolean overlaps(AddressRange other) {
        return base < other.end() && other.base < end();
    }

    @Override
    public String toString() {
        return String.format("[0x%x, 0x%x)", base, end());
    }
}
