package dev.nimbus.devices.bus;

/**
 * What a device shows a {@link Bus}: register reads and writes at an offset from the start of the range it
 * was inserted at. A device never learns its base address, the VM, the backend or the architecture; its
 * interrupt line, if it has one, is handed to its constructor.
 *
 * <p>Values are little-endian and zero-extended in a {@code long}, so an access allocates nothing. The bus
 * calls a device only for accesses that lie wholly inside its range, with {@code size} 1, 2, 4 or 8; the
 * device answers sizes it does not implement as it sees fit (most legacy devices have byte registers).
 * Devices may be called from several vCPU threads at once and synchronize themselves.
 */
public interface BusDevice {
    /** The value the guest reads from {@code size} bytes at {@code offset}; only the low {@code size} bytes count. */
    long read(long offset, int size);

    /** The guest wrote the low {@code size} bytes of {@code value} at {@code offset}. */
    void write(long offset, int size, long value);

    /** A short name for messages ({@code "serial 16550A"}). */
    default String name() {
        return getClass().getSimpleName();
    }
}
