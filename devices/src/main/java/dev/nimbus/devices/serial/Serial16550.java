package dev.nimbus.devices.serial;

import dev.nimbus.devices.bus.ByteRegisterDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.state.Snapshottable;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * A National Semiconductor PC16550D-compatible UART ("16550A" to Linux): eight byte registers, a 16-byte
 * receive FIFO, the four prioritized interrupt sources and loopback, with a level-triggered interrupt output.
 *
 * <p>Register map (offset: read / write; DLAB is LCR bit 7):
 * <pre>
 *   0  RBR / THR          (DLAB=1: DLL)
 *   1  IER                (DLAB=1: DLM)
 *   2  IIR / FCR
 *   3  LCR
 *   4  MCR
 *   5  LSR / -
 *   6  MSR / -
 *   7  SCR
 * </pre>
 *
 * <p>The line is as fast as the host: a byte written to THR goes to the output sink (or, in loopback, to the
 * receiver) before the write returns, so THR and the transmit FIFO read empty again at once and the THR-empty
 * interrupt is pending again after every write. The sink may block; that holds the writing vCPU back, which
 * is the flow control a real line gives. The receive FIFO is real: host input waits for room in it
 * ({@link #receive}), bytes that the guest itself sends in loopback overrun it as on the chip. A character
 * timeout (IIR 0xC) is reported as soon as bytes sit below the trigger level, since the sender has by then
 * been idle for "four character times".
 *
 * <p>Interrupt identification, highest priority first, each only when enabled in IER:
 * receiver line status (0x6: an error bit in LSR), received data available (0x4, or 0xC for a timeout),
 * THR empty (0x2: cleared by reading IIR while it is the reported source, or by writing THR; pending again
 * when THR empties and when IER's ETBEI bit goes from 0 to 1 with THR empty, which is what Linux's
 * {@code UART_BUG_TXEN} and {@code UART_BUG_THRE} probes check), modem status (0x0: a delta bit in MSR).
 * The output line follows "an interrupt is pending" after every access. OUT2 does not gate it (as in other
 * VMMs): guests that leave OUT2 clear still get interrupts.
 *
 * <p>Thread-safe: the vCPU threads and the host input side may call it at once.
 */
public final class Serial16550 extends ByteRegisterDevice implements FifoInput, Snapshottable {
    private static final System.Logger LOG = System.getLogger(Serial16550.class.getName());

    /** Depth of the receive FIFO. */
    public static final int FIFO_SIZE = 16;

    // Register offsets.
    static final int RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    // IER bits.
    static final int IER_ERBFI = 0x01, IER_ETBEI = 0x02, IER_ELSI = 0x04, IER_EDSSI = 0x08;
    // IIR values.
    static final int IIR_NO_INT = 0x01, IIR_MODEM = 0x00, IIR_THRE = 0x02, IIR_RX_DATA = 0x04, IIR_LINE = 0x06,
            IIR_RX_TIMEOUT = 0x0c, IIR_FIFO_ENABLED = 0xc0;
    // FCR bits.
    static final int FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02, FCR_CLEAR_TX = 0x04;
    // LCR bits.
    static final int LCR_DLAB = 0x80;
    // MCR bits.
    static final int MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
    // LSR bits.
    static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_PE = 0x04, LSR_FE = 0x08, LSR_BI = 0x10, LSR_THRE = 0x20,
            LSR_TEMT = 0x40;
    // MSR bits.
    static final int MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08, MSR_CTS = 0x10,
            MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;

    private static final int[] RX_TRIGGER = {1, 4, 8, 14};
    /** {@link #saveState()}'s format: see {@link #saveState()} for the layout. */
    static final String STATE_ID = "serial-16550a";
    static final int STATE_VERSION = 1;
    private static final int STATE_HEADER = 11;
    /** What the host side of the line shows: carrier, data set ready and clear to send, as a connected terminal. */
    private static final int HOST_MODEM_LINES = MSR_DCD | MSR_DSR | MSR_CTS;

    private final IrqLine irq;
    private final OutputStream sink;

    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private int ier;
    private int lcr;
    private int mcr;
    private int lineErrors;
    private int msr = HOST_MODEM_LINES;
    private int scr;
    private int dll = 0x0c; // 9600 baud from the 1.8432 MHz clock, until the guest says otherwise
    private int dlm;
    private boolean fifoEnabled;
    private int rxTrigger = 1;
    private boolean thrInterruptPending;
    private boolean irqHigh;
    private boolean sinkFailed;

    /**
     * @param irq  the interrupt line (ISA IRQ 4 for COM1), driven high while an enabled interrupt is pending
     * @param sink where the guest's output goes: host stdout, a file, or {@link OutputStream#nullOutputStream()}
     */
    public Serial16550(IrqLine irq, OutputStream sink) {
        this.irq = Objects.requireNonNull(irq, "irq");
        this.sink = Objects.requireNonNull(sink, "sink");
    }

    @Override
    public String name() {
        return "serial 16550A";
    }

    @Override
    protected synchronized int readByte(int offset) {
        int value = switch (offset) {
            case RBR_THR -> (lcr & LCR_DLAB) != 0 ? dll : readRbr();
            case IER -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            case SCR -> scr;
            default -> 0xff;
        };
        updateIrq();
        return value;
    }

    @Override
    protected synchronized void writeByte(int offset, int value) {
        switch (offset) {
            case RBR_THR -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dll = value;
                } else {
                    transmit(value);
                }
            }
            case IER -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = value;
                } else {
                    writeIer(value);
                }
            }
            case IIR_FCR -> writeFcr(value);
            case LCR -> lcr = value;
            case MCR -> writeMcr(value);
            case SCR -> scr = value;
            default -> {
                // LSR and MSR are read-only (writing them is a factory test mode).
            }
        }
        updateIrq();
    }

    /**
     * Host input: puts as many of {@code data[offset, offset+length)} into the receive FIFO as fit without
     * overrunning it, and returns how many did. While the guest holds the UART in loopback the line from the
     * host is disconnected and nothing is taken.
     */
    @Override
    public synchronized int offer(byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        int n = Math.min(length, rxRoom());
        for (int i = 0; i < n; i++) {
            receiveByte(data[offset + i] & 0xff);
        }
        updateIrq();
        return n;
    }

    /** Room in the receive FIFO for host input (1 byte when the FIFO is off, 0 in loopback). */
    public synchronized int rxRoom() {
        if ((mcr & MCR_LOOP) != 0) {
            return 0;
        }
        return (fifoEnabled ? FIFO_SIZE : 1) - rxCount;
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: one byte each of IER, LCR, MCR, the pending line errors, MSR, SCR, DLL, DLM, flags (bit 0
     * FIFOs enabled, bit 1 THR-empty interrupt pending), the receive trigger level and the receive FIFO's
     * count, then the bytes in the FIFO, oldest first. The interrupt output is not saved: it follows from
     * the registers and is driven again on restore.
     */
    @Override
    public synchronized DeviceState saveState() {
        ByteBuffer b = ByteBuffer.allocate(STATE_HEADER + rxCount);
        b.put((byte) ier).put((byte) lcr).put((byte) mcr).put((byte) lineErrors).put((byte) msr).put((byte) scr)
                .put((byte) dll).put((byte) dlm).put((byte) ((fifoEnabled ? 1 : 0) | (thrInterruptPending ? 2 : 0)))
                .put((byte) rxTrigger).put((byte) rxCount);
        for (int i = 0; i < rxCount; i++) {
            b.put(rx[(rxHead + i) % FIFO_SIZE]);
        }
        return new DeviceState(STATE_ID, STATE_VERSION, b.array());
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(STATE_ID, STATE_VERSION);
        byte[] d = state.data();
        if (d.length < STATE_HEADER) {
            throw new DeviceStateException(STATE_ID + ": " + d.length + " bytes of state, expected at least " + STATE_HEADER);
        }
        int flags = d[8] & 0xff;
        int trigger = d[9] & 0xff;
        int count = d[10] & 0xff;
        boolean fifo = (flags & 1) != 0;
        if ((d[0] & 0xf0) != 0 || (d[2] & 0xe0) != 0 || (d[3] & ~(LSR_OE | LSR_PE | LSR_FE | LSR_BI)) != 0
                || (flags & ~3) != 0 || Arrays.stream(RX_TRIGGER).noneMatch(t -> t == trigger)
                || count > (fifo ? FIFO_SIZE : 1) || d.length != STATE_HEADER + count) {
            throw new DeviceStateException(STATE_ID + ": the saved registers are not a state a 16550A can be in");
        }
        ier = d[0] & 0xff;
        lcr = d[1] & 0xff;
        mcr = d[2] & 0xff;
        lineErrors = d[3] & 0xff;
        msr = d[4] & 0xff;
        scr = d[5] & 0xff;
        dll = d[6] & 0xff;
        dlm = d[7] & 0xff;
        fifoEnabled = fifo;
        thrInterruptPending = (flags & 2) != 0;
        rxTrigger = trigger;
        rxHead = 0;
        rxCount = count;
        System.arraycopy(d, STATE_HEADER, rx, 0, count);
        notifyAll(); // host input waiting for room sees the restored FIFO
        updateIrq();
    }

    /** Whether the interrupt output is asserted now. */
    public synchronized boolean interruptAsserted() {
        return irqHigh;
    }

    private int readRbr() {
        if (rxCount == 0) {
            return 0;
        }
        int value = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        notifyAll(); // host input waiting in receive()
        return value;
    }

    private int readIir() {
        int id = interruptId();
        if (id == IIR_THRE) {
            thrInterruptPending = false;
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int readLsr() {
        int value = lsr();
        lineErrors = 0;
        return value;
    }

    private int lsr() {
        int value = lineErrors | LSR_THRE | LSR_TEMT;
        if (rxCount > 0) {
            value |= LSR_DR;
        }
        return value;
    }

    private int readMsr() {
        int value = msr;
        msr &= 0xf0;
        return value;
    }

    private void writeIer(int value) {
        int old = ier;
        ier = value & 0x0f;
        if ((ier & IER_ETBEI) != 0 && (old & IER_ETBEI) == 0) {
            // Enabling the THRE interrupt with THR empty raises it, even if it was cleared by reading IIR.
            thrInterruptPending = true;
        }
    }

    private void writeFcr(int value) {
        boolean enable = (value & FCR_ENABLE) != 0;
        if (enable != fifoEnabled) {
            clearRx(); // switching the FIFOs on or off empties them
            fifoEnabled = enable;
        }
        if (!enable) {
            return; // the other bits are written only with FCR0 set
        }
        if ((value & FCR_CLEAR_RX) != 0) {
            clearRx();
        }
        // FCR_CLEAR_TX: the transmit FIFO is always empty here.
        rxTrigger = RX_TRIGGER[(value >> 6) & 3];
    }

    private void writeMcr(int value) {
        mcr = value & 0x1f;
        setModemInputs((mcr & MCR_LOOP) != 0 ? loopedModemLines(mcr) : HOST_MODEM_LINES);
        notifyAll(); // leaving loopback reconnects host input
    }

    /** In loopback the modem outputs feed the inputs: RTS to CTS, DTR to DSR, OUT1 to RI, OUT2 to DCD. */
    private static int loopedModemLines(int mcr) {
        int lines = 0;
        if ((mcr & MCR_RTS) != 0) {
            lines |= MSR_CTS;
        }
        if ((mcr & MCR_DTR) != 0) {
            lines |= MSR_DSR;
        }
        if ((mcr & MCR_OUT1) != 0) {
            lines |= MSR_RI;
        }
        if ((mcr & MCR_OUT2) != 0) {
            lines |= MSR_DCD;
        }
        return lines;
    }

    private void setModemInputs(int lines) {
        int old = msr & 0xf0;
        int changed = old ^ lines;
        int deltas = msr & 0x0f;
        if ((changed & MSR_CTS) != 0) {
            deltas |= MSR_DCTS;
        }
        if ((changed & MSR_DSR) != 0) {
            deltas |= MSR_DDSR;
        }
        if ((old & MSR_RI) != 0 && (lines & MSR_RI) == 0) {
            deltas |= MSR_TERI; // trailing edge of ring
        }
        if ((changed & MSR_DCD) != 0) {
            deltas |= MSR_DDCD;
        }
        msr = lines | deltas;
    }

    private void transmit(int value) {
        thrInterruptPending = false;
        if ((mcr & MCR_LOOP) != 0) {
            receiveByte(value);
        } else {
            try {
                sink.write(value);
                sink.flush();
            } catch (IOException e) {
                if (!sinkFailed) {
                    sinkFailed = true;
                    LOG.log(Level.WARNING, "serial output failed; guest output is dropped while it fails: " + e.getMessage());
                }
            }
        }
        thrInterruptPending = true; // THR is empty again
    }

    private void receiveByte(int value) {
        if (fifoEnabled) {
            if (rxCount == FIFO_SIZE) {
                lineErrors |= LSR_OE; // the byte in the shift register is lost, the FIFO is kept
                return;
            }
            rx[(rxHead + rxCount) % FIFO_SIZE] = (byte) value;
            rxCount++;
        } else {
            if (rxCount == 1) {
                lineErrors |= LSR_OE; // 16450 mode: the new byte replaces the unread one
            }
            rx[rxHead] = (byte) value;
            rxCount = 1;
        }
    }

    private void clearRx() {
        rxHead = 0;
        rxCount = 0;
        notifyAll();
    }

    private int interruptId() {
        if ((ier & IER_ELSI) != 0 && (lineErrors & (LSR_OE | LSR_PE | LSR_FE | LSR_BI)) != 0) {
            return IIR_LINE;
        }
        if ((ier & IER_ERBFI) != 0 && rxCount > 0) {
            return !fifoEnabled || rxCount >= rxTrigger ? IIR_RX_DATA : IIR_RX_TIMEOUT;
        }
        if ((ier & IER_ETBEI) != 0 && thrInterruptPending) {
            return IIR_THRE;
        }
        if ((ier & IER_EDSSI) != 0 && (msr & 0x0f) != 0) {
            return IIR_MODEM;
        }
        return IIR_NO_INT;
    }

    private void updateIrq() {
        boolean high = interruptId() != IIR_NO_INT;
        if (high != irqHigh) {
            irqHigh = high;
            irq.set(high);
        }
    }
}
