package dev.nimbus.hypervisor;

/**
 * Where a guest write signals an ioeventfd: {@code length} bytes (1, 2, 4 or 8; 0 means any length, where
 * the hypervisor supports it) at {@code address} in the port-I/O or MMIO space.
 */
public record IoEventAddress(Space space, long address, int length) {
    /** The address space of an {@link IoEventAddress}. Port I/O exists on x86-64 only. */
    public enum Space { PIO, MMIO }

    public IoEventAddress {
        if (length != 0 && length != 1 && length != 2 && length != 4 && length != 8) {
            throw new IllegalArgumentException("ioeventfd length must be 0, 1, 2, 4 or 8: " + length);
        }
        if (address < 0 || (space == Space.PIO && address > 0xffff)) {
            throw new IllegalArgumentException(String.format("bad %s address 0x%x", space, address));
        }
    }

    public static IoEventAddress mmio(long address, int length) {
        return new IoEventAddress(Space.MMIO, address, length);
    }

    public static IoEventAddress pio(int port, int length) {
        return new IoEventAddress(Space.PIO, port, length);
    }
}
