package dev.nimbus.devices.virtio.console;

import dev.nimbus.devices.console.ConsoleInput;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.devices.virtio.DescriptorChain;
import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.VirtQueueException;
import dev.nimbus.devices.virtio.VirtioDevice;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * The virtio console (virtio 1.2, 5.3; {@code --console}) with one port and no MULTIPORT: the driver's
 * output arrives on the transmit queue (1) and goes to an {@link OutputStream}; host input is handed to
 * {@link #receive} by another thread, held in a bounded buffer, and copied into the buffers the driver posts
 * on the receive queue (0). Configuration: cols and rows (VIRTIO_CONSOLE_F_SIZE) and emerg_wr
 * (VIRTIO_CONSOLE_F_EMERG_WRITE), a one-byte write that goes straight to the output.
 *
 * <p>Host input must make the receive queue get served: {@link #onInput} gives the device the action that
 * does it. The VMM signals the queue's ioeventfd, so the device's worker thread serves it as if the guest
 * had notified; a test calls {@code VirtioPciDevice.processQueue(RECEIVEQ)}. Input that arrives before the
 * driver posts buffers (or before it exists at all) waits in the buffer and survives a device reset, since
 * Linux resets the device when it probes it. When the buffer is full, newer input is dropped and counted,
 * with one warning.
 *
 * <p>A transmit chain the driver could not have meant (device-writable buffers, or more than
 * {@link #MAX_TRANSMIT} bytes) is returned unused and logged once; a receive chain with nothing writable is
 * returned empty. An output that fails drops the guest's output while it fails, with one warning.
 */
public final class VirtioConsole implements ConsoleInput, VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioConsole.class.getName());

    public static final int DEVICE_TYPE = 3;
    public static final int QUEUE_SIZE = 256;
    public static final int RECEIVEQ = 0;
    public static final int TRANSMITQ = 1;

    public static final int F_SIZE = 0;
    public static final int F_MULTIPORT = 1;
    public static final int F_EMERG_WRITE = 2;

    /** struct virtio_console_config: cols le16, rows le16, max_nr_ports le32, emerg_wr le32. */
    public static final int CONFIG_COLS = 0;
    public static final int CONFIG_ROWS = 2;
    public static final int CONFIG_MAX_NR_PORTS = 4;
    public static final int CONFIG_EMERG_WR = 8;
    private static final int CONFIG_SIZE = 12;

    public static final int DEFAULT_COLS = 80;
    public static final int DEFAULT_ROWS = 24;
    /** Default bound of host input waiting for the driver. */
    public static final int DEFAULT_INPUT_CAPACITY = 64 * 1024;
    /**
     * Largest transmit chain written out. Linux's hvc layer sends at most a page at a time; a chain of more
     * than this is a guest flooding the host's terminal or file, not console output.
     */
    public static final int MAX_TRANSMIT = 1 << 20;

    private final OutputStream out;
    private final int cols;
    private final int rows;
    private final byte[] scratch = new byte[4096];
    private boolean outputFailureLogged;
    private boolean badTransmitLogged;
    private boolean badReceiveLogged;

    /** Host input not yet delivered: a ring of {@code input.length} bytes, guarded by itself. */
    private final byte[] input;
    private int inputHead;
    private int inputCount;
    private boolean overflowLogged;

    private final LongAdder transmitted = new LongAdder();
    private final LongAdder delivered = new LongAdder();
    private final LongAdder dropped = new LongAdder();

    /** Guards {@link #inputAction}: replacing it waits for a run in progress. */
    private final Object actionLock = new Object();
    private Runnable inputAction = () -> {};

    /** An 80x24 console writing to {@code out} with a 64 KiB input buffer. */
    public VirtioConsole(OutputStream out) {
        this(out, DEFAULT_COLS, DEFAULT_ROWS, DEFAULT_INPUT_CAPACITY);
    }

    /**
     * @param out           where the guest's output goes (stdout, a file, {@link OutputStream#nullOutputStream()});
     *                      the caller owns and closes it
     * @param cols          terminal width shown in the configuration, 1 to 65535
     * @param rows          terminal height shown in the configuration, 1 to 65535
     * @param inputCapacity bytes of host input held for the driver
     */
    public VirtioConsole(OutputStream out, int cols, int rows, int inputCapacity) {
        if (cols < 1 || cols > 0xffff || rows < 1 || rows > 0xffff) {
            throw new IllegalArgumentException("virtio-console size " + cols + "x" + rows + " (1 to 65535 each)");
        }
        if (inputCapacity < 1) {
            throw new IllegalArgumentException("virtio-console input capacity " + inputCapacity);
        }
        this.out = out;
        this.cols = cols;
        this.rows = rows;
        this.input = new byte[inputCapacity];
    }

    /**
     * What to run (on the input thread, so it must not block) when host input arrives, so that the receive
     * queue gets served; replaces the previous action. Returns once the previous action is not running, so
     * the caller may then release what it used (an eventfd): the VMM sets a no-op before closing the queue's
     * eventfd.
     */
    public void onInput(Runnable action) {
        Objects.requireNonNull(action, "action");
        synchronized (actionLock) {
            this.inputAction = action;
        }
    }

    /**
     * Host input (from any thread): buffered for the driver, then the input action runs. Bytes that do not
     * fit into the buffer are dropped; never blocks on the guest.
     */
    @Override
    public void receive(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        if (len == 0) {
            return;
        }
        boolean overflow = false;
        synchronized (input) {
            int n = Math.min(len, input.length - inputCount);
            for (int i = 0; i < n; i++) {
                input[(inputHead + inputCount + i) % input.length] = data[off + i];
            }
            inputCount += n;
            if (n < len) {
                dropped.add(len - n);
                overflow = !overflowLogged;
                overflowLogged = true;
            }
        }
        if (overflow) {
            LOG.log(Level.WARNING, "virtio-console: {0} bytes of input are waiting for the guest; newer input is dropped",
                    input.length);
        }
        synchronized (actionLock) {
            inputAction.run();
        }
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return 1L << F_SIZE | 1L << F_EMERG_WRITE;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public int pciClass() {
        return 0x078000; // simple communication controller, other
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (long) configByte(offset + i) << (8 * i);
        }
        return v;
    }

    private int configByte(int at) {
        return switch (at) {
            case CONFIG_COLS -> cols & 0xff;
            case CONFIG_COLS + 1 -> cols >>> 8;
            case CONFIG_ROWS -> rows & 0xff;
            case CONFIG_ROWS + 1 -> rows >>> 8;
            default -> 0; // max_nr_ports without MULTIPORT, emerg_wr reads 0
        };
    }

    /** emerg_wr (5.3.4): the low byte of a write is output at once, even before DRIVER_OK. */
    @Override
    public void writeConfig(int offset, int size, long value) {
        if (offset == CONFIG_EMERG_WR) {
            scratch[0] = (byte) value;
            write(scratch, 1);
            flush();
        }
    }

    @Override
    public void process(int index, VirtQueue queue) throws VirtQueueException {
        if (index == TRANSMITQ) {
            transmit(queue);
        } else if (index == RECEIVEQ) {
            deliver(queue);
        }
    }

    private void transmit(VirtQueue queue) throws VirtQueueException {
        DescriptorChain chain;
        boolean wrote = false;
        while ((chain = queue.pop()) != null) {
            long length = chain.readableBytes();
            if (!chain.writable().isEmpty() || length > MAX_TRANSMIT) {
                if (!badTransmitLogged) {
                    badTransmitLogged = true;
                    LOG.log(Level.WARNING, "virtio-console: transmit chain at head {0} ({1} bytes, {2} device-writable "
                            + "buffers) is not console output; dropped", chain.head(), length, chain.writable().size());
                }
            } else {
                for (ByteBuffer b : chain.readable()) {
                    ByteBuffer view = b.duplicate();
                    while (view.hasRemaining()) {
                        int n = Math.min(view.remaining(), scratch.length);
                        view.get(scratch, 0, n);
                        write(scratch, n);
                    }
                }
                transmitted.add(length);
                wrote |= length > 0;
            }
            queue.addUsed(chain.head(), 0);
        }
        if (wrote) {
            flush();
        }
    }

    private void write(byte[] bytes, int n) {
        try {
            out.write(bytes, 0, n);
        } catch (IOException e) {
            outputFailed(e);
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            outputFailed(e);
        }
    }

    private void outputFailed(IOException e) {
        if (!outputFailureLogged) {
            outputFailureLogged = true;
            LOG.log(Level.WARNING, "virtio-console: output failed; guest output is dropped while it fails: {0}", e.getMessage());
        }
    }

    /** Fills the driver's receive buffers from the input buffer, a chain at a time, while both last. */
    private void deliver(VirtQueue queue) throws VirtQueueException {
        synchronized (input) {
            while (inputCount > 0) {
                DescriptorChain chain = queue.pop();
                if (chain == null) {
                    return;
                }
                int written = 0;
                for (ByteBuffer b : chain.writable()) {
                    ByteBuffer view = b.duplicate();
                    while (view.hasRemaining() && inputCount > 0) {
                        int n = Math.min(Math.min(view.remaining(), inputCount), input.length - inputHead);
                        view.put(input, inputHead, n);
                        inputHead = (inputHead + n) % input.length;
                        inputCount -= n;
                        written += n;
                    }
                }
                if (written == 0 && !badReceiveLogged) {
                    badReceiveLogged = true;
                    LOG.log(Level.WARNING, "virtio-console: receive chain at head {0} has no device-writable buffer; returned empty",
                            chain.head());
                }
                delivered.add(written);
                queue.addUsed(chain.head(), written);
            }
        }
    }

    @Override
    public String stateId() {
        return "virtio-console";
    }

    /**
     * Version 1: cols and rows (u16 each), then the host input not yet delivered (a u32 count and the bytes,
     * oldest first), so what was typed before the save reaches the guest after the restore.
     */
    @Override
    public DeviceState saveState() {
        synchronized (input) {
            StateWriter w = new StateWriter().u16(cols).u16(rows).u32(inputCount);
            for (int i = 0; i < inputCount; i++) {
                w.u8(input[(inputHead + i) % input.length]);
            }
            return w.done(stateId(), 1);
        }
    }

    /** Refused when the size differs or the input does not fit this console's buffer. */
    @Override
    public void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, stateId(), 1);
        r.in("cols", 2, cols, cols);
        r.in("rows", 2, rows, rows);
        int count = r.in("input count", 4, 0, input.length);
        byte[] waiting = r.bytes("input", count);
        r.end();
        synchronized (input) {
            System.arraycopy(waiting, 0, input, 0, count);
            inputHead = 0;
            inputCount = count;
        }
    }

    /**
     * Guest output written ({@code tx_bytes}), host input delivered into receive buffers ({@code rx_bytes})
     * and host input dropped because the buffer was full ({@code rx_dropped_bytes}).
     */
    @Override
    public Map<String, Long> counters() {
        return Map.of("tx_bytes", transmitted.sum(), "rx_bytes", delivered.sum(), "rx_dropped_bytes", dropped.sum());
    }

    @Override
    public String name() {
        return "virtio-console";
    }
}
