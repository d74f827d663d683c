package dev.nimbus.devices.serial;

import dev.nimbus.devices.console.ConsoleInput;

import java.util.Objects;

/**
 * Host input into a UART's receive FIFO (16550, PL011): {@link #offer} takes what fits without overrun, and
 * {@link #receive} takes everything, waiting on the device's monitor for room as the guest reads. The device
 * calls {@code notifyAll()} under its monitor whenever room appears (a read, a FIFO reset, leaving loopback).
 */
interface FifoInput extends ConsoleInput {
    /** Puts as much of {@code data[offset, offset+length)} into the FIFO as fits; returns how much. */
    int offer(byte[] data, int offset, int length);

    @Override
    default void receive(byte[] data, int offset, int length) throws InterruptedException {
        Objects.checkFromIndexSize(offset, length, data.length);
        synchronized (this) {
            int done = 0;
            while (done < length) {
                int n = offer(data, offset + done, length - done);
                done += n;
                if (n == 0) {
                    wait();
                }
            }
        }
    }
}
