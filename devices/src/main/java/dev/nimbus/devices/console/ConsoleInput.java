package dev.nimbus.devices.console;

/**
 * A device that takes what the host types for the guest: the UARTs (16550, PL011) and virtio-console. The
 * VMM connects one of them to the terminal or another host stream through this interface alone, whatever the
 * device is.
 */
@FunctionalInterface
public interface ConsoleInput {
    /**
     * Host input for the guest, from any thread: {@code data[offset, offset+length)}. A UART waits for room as
     * the guest reads; virtio-console buffers and drops what does not fit, never blocking on the guest.
     */
    void receive(byte[] data, int offset, int length) throws InterruptedException;
}
