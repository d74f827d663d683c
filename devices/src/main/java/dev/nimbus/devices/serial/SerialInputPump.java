package dev.nimbus.devices.serial;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;

/**
 * Feeds a host byte stream (a terminal in raw mode, a pipe, a file) into a UART's receive FIFO on a daemon
 * thread of its own, waiting for room as the guest reads, so no typed or pasted byte is dropped. Stops at end
 * of input, on a read error, or on {@link #close()}.
 */
public final class SerialInputPump implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SerialInputPump.class.getName());

    private final Thread thread;

    private SerialInputPump(Serial16550 uart, InputStream source, String name) {
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(() -> pump(uart, source));
    }

    /** Starts feeding {@code source} into {@code uart}. */
    public static SerialInputPump start(Serial16550 uart, InputStream source) {
        SerialInputPump pump = new SerialInputPump(uart, source, "serial-input");
        pump.thread.start();
        return pump;
    }

    private static void pump(Serial16550 uart, InputStream source) {
        byte[] buf = new byte[256];
        try {
            int n;
            while ((n = source.read(buf)) > 0) {
                uart.receive(buf, 0, n);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "serial input stopped: " + e.getMessage());
        }
    }

    /** Waits up to {@code millis} for the pump to finish (end of input); returns whether it did. */
    public boolean join(long millis) throws InterruptedException {
        thread.join(millis);
        return !thread.isAlive();
    }

    /** Stops feeding. A read blocked in the source is left to end with the source. */
    @Override
    public void close() {
        thread.interrupt();
    }
}
