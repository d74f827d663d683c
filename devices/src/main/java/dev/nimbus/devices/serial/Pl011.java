package dev.nimbus.devices.serial;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.util.Objects;

/**
 * The Arm PrimeCell PL011 UART (revision r1, 16-byte FIFOs), in 4 KiB of MMIO. Linux drives it with
 * {@code amba-pl011} (console {@code ttyAMA0}), with 16- or 32-bit accesses to 32-bit-spaced registers:
 * <pre>
 *   0x000 DR      data: write transmits, read takes the oldest received byte
 *   0x004 RSR/ECR receive status (overrun, bit 3) / any write clears it
 *   0x018 FR      flags: RXFE (4), TXFF (5), RXFF (6), TXFE (7), BUSY (3); CTS, DSR, DCD (0-2) from the host
 *   0x024 IBRD, 0x028 FBRD, 0x02C LCR_H (FEN, bit 4: FIFOs on), 0x030 CR (LBE, bit 7: loopback),
 *   0x034 IFLS (receive trigger level in bits 5:3: 1/8, 1/4, 1/2, 3/4, 7/8 of the FIFO)
 *   0x038 IMSC    interrupt mask; 0x03C RIS raw status; 0x040 MIS masked status; 0x044 ICR clear
 *   0xFE0-0xFFC   peripheral and PrimeCell IDs (0x00141011, 0xB105F00D)
 * </pre>
 *
 * <p>As with {@link Serial16550}, the line is as fast as the host: a byte written to DR reaches the output
 * sink (or, in loopback, the receiver) before the write returns, so the transmit FIFO always reads empty and
 * the transmit interrupt (TXRIS) is always raised; Linux enables its mask only while it has bytes waiting.
 * The receive FIFO is real: host input waits for room ({@link #receive}), loopback bytes overrun it. Receive
 * (RXRIS) follows the trigger level; the receive timeout (RTRIS) is raised as soon as bytes sit below it.
 * Overrun (OERIS) stays until cleared through ICR. The interrupt line is high while RIS and IMSC share a bit.
 * UARTEN, TXE and RXE are not enforced: output written before the guest enables the UART still shows.
 *
 * <p>Thread-safe: the vCPU threads and the host input side may call it at once.
 */
public final class Pl011 implements FifoInput, BusDevice, Snapshottable {
    private static final System.Logger LOG = System.getLogger(Pl011.class.getName());

    /** Bytes of MMIO the device answers. */
    public static final int SIZE = 0x1000;
    /** Depth of the receive FIFO. */
    public static final int FIFO_SIZE = 16;

    static final int DR = 0x000, RSR = 0x004, FR = 0x018, ILPR = 0x020, IBRD = 0x024, FBRD = 0x028, LCR_H = 0x02c,
            CR = 0x030, IFLS = 0x034, IMSC = 0x038, RIS = 0x03c, MIS = 0x040, ICR = 0x044, DMACR = 0x048;
    static final int FR_CTS = 0x001, FR_DSR = 0x002, FR_DCD = 0x004, FR_RXFE = 0x010, FR_RXFF = 0x040, FR_TXFE = 0x080;
    static final int LCR_H_FEN = 0x10;
    static final int CR_LBE = 0x80;
    static final int INT_RX = 0x010, INT_TX = 0x020, INT_RT = 0x040, INT_OE = 0x400;
    static final int RSR_OE = 0x08;
    private static final int[] IDS = {0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
    private static final int[] RX_TRIGGER = {2, 4, 8, 12, 14}; // 1/8 ... 7/8 of 16
    static final String STATE_ID = "pl011";
    static final int STATE_VERSION = 1;

    private final IrqLine irq;
    private final OutputStream sink;
    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private int ilpr;
    private int ibrd;
    private int fbrd;
    private int lcrH;
    private int cr = 0x300; // TXE | RXE, as at reset
    private int ifls = 0x12; // trigger levels at half
    private int imsc;
    private int dmacr;
    /** Sticky interrupt bits (overrun), cleared through ICR. */
    private int stickyRis;
    private boolean overrun;
    private boolean irqHigh;
    private boolean sinkFailed;

    /**
     * @param irq  the interrupt line (a GIC SPI), high while an unmasked interrupt is raised
     * @param sink where the guest's output goes
     */
    public Pl011(IrqLine irq, OutputStream sink) {
        this.irq = Objects.requireNonNull(irq, "irq");
        this.sink = Objects.requireNonNull(sink, "sink");
    }

    @Override
    public String name() {
        return "PL011 UART";
    }

    @Override
    public synchronized long read(long offset, int size) {
        int reg = (int) offset & ~3;
        long value = readRegister(reg) & 0xffff_ffffL;
        updateIrq();
        return value >>> (8 * ((int) offset & 3));
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if ((offset & 3) != 0) {
            return; // registers are written whole
        }
        int v = (int) value;
        switch ((int) offset) {
            case DR -> transmit(v & 0xff);
            case RSR -> overrun = false;
            case ILPR -> ilpr = v & 0xff;
            case IBRD -> ibrd = v & 0xffff;
            case FBRD -> fbrd = v & 0x3f;
            case LCR_H -> {
                if (((lcrH ^ v) & LCR_H_FEN) != 0) {
                    clearRx(); // switching the FIFOs on or off empties them
                }
                lcrH = v & 0xff;
            }
            case CR -> {
                cr = v & 0xffff;
                notifyAll(); // leaving loopback reconnects host input
            }
            case IFLS -> ifls = v & 0x3f;
            case IMSC -> imsc = v & 0x7ff;
            case ICR -> stickyRis &= ~v;
            case DMACR -> dmacr = v & 0x7;
            default -> {
                // FR, RIS, MIS and the IDs are read-only
            }
        }
        updateIrq();
    }

    /** Host input: takes as much as fits the receive FIFO without overrun; returns how much. None in loopback. */
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

    /** Room in the receive FIFO for host input. */
    public synchronized int rxRoom() {
        return (cr & CR_LBE) != 0 ? 0 : fifoDepth() - rxCount;
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: ILPR (u8), IBRD (u16), FBRD (u8), LCR_H (u8), CR (u16), IFLS (u8), IMSC (u16), DMACR (u8), the
     * sticky interrupt bits (u16: overrun), the receive status overrun flag (u8), the receive FIFO's count (u8)
     * and its bytes, oldest first. The interrupt output follows from them and is driven again on restore.
     */
    @Override
    public synchronized DeviceState saveState() {
        StateWriter w = new StateWriter().u8(ilpr).u16(ibrd).u8(fbrd).u8(lcrH).u16(cr).u8(ifls).u16(imsc).u8(dmacr)
                .u16(stickyRis).bool(overrun).u8(rxCount);
        for (int i = 0; i < rxCount; i++) {
            w.u8(rx[(rxHead + i) % FIFO_SIZE]);
        }
        return w.done(STATE_ID, STATE_VERSION);
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        int newIlpr = r.u8("ILPR");
        int newIbrd = r.u16("IBRD");
        int newFbrd = r.in("FBRD", 1, 0, 0x3f);
        int newLcrH = r.u8("LCR_H");
        int newCr = r.u16("CR");
        int newIfls = r.in("IFLS", 1, 0, 0x3f);
        int newImsc = r.in("IMSC", 2, 0, 0x7ff);
        int newDmacr = r.in("DMACR", 1, 0, 7);
        int newSticky = r.u16("sticky interrupts");
        r.check((newSticky & ~INT_OE) == 0, "sticky interrupts", String.format("0x%x has bits other than overrun", newSticky));
        boolean newOverrun = r.bool("overrun");
        int count = r.in("receive FIFO count", 1, 0, (newLcrH & LCR_H_FEN) != 0 ? FIFO_SIZE : 1);
        byte[] bytes = r.bytes("receive FIFO", count);
        r.end();
        ilpr = newIlpr;
        ibrd = newIbrd;
        fbrd = newFbrd;
        lcrH = newLcrH;
        cr = newCr;
        ifls = newIfls;
        imsc = newImsc;
        dmacr = newDmacr;
        stickyRis = newSticky;
        overrun = newOverrun;
        rxHead = 0;
        rxCount = count;
        System.arraycopy(bytes, 0, rx, 0, count);
        notifyAll(); // host input waiting for room sees the restored FIFO
        updateIrq();
    }

    private int readRegister(int reg) {
        if (reg >= 0xfe0 && reg <= 0xffc) {
            return IDS[(reg - 0xfe0) / 4];
        }
        return switch (reg) {
            case DR -> readData();
            case RSR -> overrun ? RSR_OE : 0;
            case FR -> flags();
            case ILPR -> ilpr;
            case IBRD -> ibrd;
            case FBRD -> fbrd;
            case LCR_H -> lcrH;
            case CR -> cr;
            case IFLS -> ifls;
            case IMSC -> imsc;
            case RIS -> rawInterrupts();
            case MIS -> rawInterrupts() & imsc;
            case DMACR -> dmacr;
            default -> 0;
        };
    }

    private int readData() {
        if (rxCount == 0) {
            return 0;
        }
        int value = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        notifyAll();
        return value;
    }

    private int flags() {
        int f = FR_TXFE | FR_CTS | FR_DSR | FR_DCD;
        if (rxCount == 0) {
            f |= FR_RXFE;
        }
        if (rxCount == fifoDepth()) {
            f |= FR_RXFF;
        }
        return f;
    }

    private int rawInterrupts() {
        int ris = stickyRis | INT_TX;
        if (rxCount > 0) {
            ris |= rxCount >= rxTrigger() ? INT_RX : INT_RT;
        }
        return ris;
    }

    private int fifoDepth() {
        return (lcrH & LCR_H_FEN) != 0 ? FIFO_SIZE : 1;
    }

    private int rxTrigger() {
        if ((lcrH & LCR_H_FEN) == 0) {
            return 1;
        }
        int sel = (ifls >> 3) & 7;
        return RX_TRIGGER[Math.min(sel, RX_TRIGGER.length - 1)];
    }

    private void transmit(int value) {
        if ((cr & CR_LBE) != 0) {
            receiveByte(value);
            return;
        }
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

    private void receiveByte(int value) {
        if (rxCount == fifoDepth()) {
            overrun = true;
            stickyRis |= INT_OE;
            return;
        }
        rx[(rxHead + rxCount) % FIFO_SIZE] = (byte) value;
        rxCount++;
    }

    private void clearRx() {
        rxHead = 0;
        rxCount = 0;
        notifyAll();
    }

    private void updateIrq() {
        boolean high = (rawInterrupts() & imsc) != 0;
        if (high != irqHigh) {
            irqHigh = high;
            irq.set(high);
        }
    }
}
