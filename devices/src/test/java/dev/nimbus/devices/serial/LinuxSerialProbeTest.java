package dev.nimbus.devices.serial;

import dev.nimbus.devices.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drives the UART through the register sequence Linux's 8250 driver uses to find out what it is
 * (drivers/tty/serial/8250/8250_port.c: autoconfig, autoconfig_16550a, size_fifo) and the interrupt probes of
 * serial8250_do_startup (UART_BUG_THRE, UART_BUG_TXEN), and checks the conclusions Linux would draw. The
 * decisions below restate what that code tests for; the code itself is Linux's.
 */
class LinuxSerialProbeTest {
    static final int RX = 0, TX = 0, IER = 1, IIR = 2, FCR = 2, EFR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6;
    static final int LCR_CONF_MODE_A = 0x80, LCR_CONF_MODE_B = 0xbf, MCR_LOOP = 0x10;

    final Serial16550 uart = new Serial16550(new RecordingIrqLine(), OutputStream.nullOutputStream());

    int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    void out(int reg, int value) {
        uart.write(reg, 1, value);
    }

    /** What autoconfig concludes: a port type name, and the FIFO size Linux will use. */
    record Verdict(String type, int fifoSize) {}

    Verdict autoconfig() {
        // Existence: IER must read back 0 and then 0x0f (low nibble).
        int scratch = in(IER);
        out(IER, 0);
        int scratch2 = in(IER) & 0x0f;
        out(IER, 0x0f);
        int scratch3 = in(IER) & 0x0f;
        out(IER, scratch);
        if (scratch2 != 0 || scratch3 != 0x0f) {
            return new Verdict("none (IER test)", 0);
        }
        int saveMcr = in(MCR);
        int saveLcr = in(LCR);
        // Loopback with OUT2 and RTS: MSR's top nibble must be DCD | CTS.
        out(MCR, MCR_LOOP | 0x0a);
        int status = in(MSR) & 0xf0;
        out(MCR, saveMcr);
        if (status != 0x90) {
            return new Verdict("none (loop test)", 0);
        }
        // Zero the EFR (if any), enable the FIFO and look at IIR's top two bits.
        out(LCR, LCR_CONF_MODE_B);
        out(EFR, 0);
        out(LCR, 0);
        out(FCR, 0x01);
        Verdict verdict = switch (in(IIR) >> 6) {
            case 0 -> new Verdict("8250/16450", 1);
            case 1 -> new Verdict("unknown", 1);
            case 2 -> new Verdict("16550", 1);
            default -> autoconfig16550a();
        };
        out(LCR, saveLcr);
        // Reset the port the way autoconfig leaves it.
        out(MCR, saveMcr);
        out(FCR, 0x01);
        out(FCR, 0x07);
        out(FCR, 0);
        in(RX);
        out(IER, 0);
        return verdict;
    }

    Verdict autoconfig16550a() {
        // EFR present with DLAB set only on ST16C650V1; a 16550A shows IIR there, which is not zero.
        out(LCR, LCR_CONF_MODE_A);
        if (in(EFR) == 0) {
            return new Verdict("16650 family (EFR with DLAB)", 32);
        }
        out(LCR, LCR_CONF_MODE_B);
        if (in(EFR) == 0) {
            return new Verdict("16650V2 family (EFR with LCR=0xbf)", 32);
        }
        // National SuperIO: bank 2's EXCR1 mirrors MCR's LOOP bit.
        out(LCR, 0);
        int status1 = in(MCR);
        out(LCR, 0xe0);
        int status2 = in(2);
        if (((status2 ^ status1) & MCR_LOOP) == 0) {
            out(LCR, 0);
            out(MCR, status1 ^ MCR_LOOP);
            out(LCR, 0xe0);
            status2 = in(2);
            out(LCR, 0);
            out(MCR, status1);
            if (((status2 ^ status1) & MCR_LOOP) != 0) {
                return new Verdict("NS16550A", 16);
            }
        }
        // TI16750: IIR bit 5 follows FCR's 64-byte bit only with DLAB set.
        out(LCR, 0);
        out(FCR, 0x01 | 0x20);
        int iir1 = in(IIR) >> 5;
        out(FCR, 0x01);
        out(LCR, LCR_CONF_MODE_A);
        out(FCR, 0x01 | 0x20);
        int iir2 = in(IIR) >> 5;
        out(FCR, 0x01);
        out(LCR, 0);
        if (iir1 == 6 && iir2 == 7) {
            return new Verdict("16750", 64);
        }
        // XScale: IER bit 6 (UUE) sticks.
        int ierSave = in(IER);
        out(IER, ierSave & ~0x40);
        if ((in(IER) & 0x40) == 0) {
            out(IER, ierSave | 0x40);
            if ((in(IER) & 0x40) != 0) {
                return new Verdict("XScale", 32);
            }
        }
        out(IER, ierSave);
        // U6_16550A has a 64-byte FIFO; a 16550A keeps 16.
        int fifo = sizeFifo();
        return fifo == 64 ? new Verdict("U6_16550A", 64) : new Verdict("16550A", 16);
    }

    /** Linux's size_fifo: in loopback at the fastest divisor, send 256 bytes and count what the receiver kept. */
    int sizeFifo() {
        int oldLcr = in(LCR);
        out(LCR, 0);
        int oldFcr = in(FCR);
        int oldMcr = in(MCR);
        out(FCR, 0x07);
        out(MCR, MCR_LOOP);
        out(LCR, LCR_CONF_MODE_A);
        int oldDl = in(0) | in(1) << 8;
        out(0, 0x01);
        out(1, 0x00);
        out(LCR, 0x03);
        for (int i = 0; i < 256; i++) {
            out(TX, i);
        }
        int count = 0;
        while ((in(LSR) & 0x01) != 0 && count < 256) {
            in(RX);
            count++;
        }
        out(FCR, oldFcr);
        out(MCR, oldMcr);
        out(LCR, LCR_CONF_MODE_A);
        out(0, oldDl & 0xff);
        out(1, oldDl >> 8);
        out(LCR, oldLcr);
        return count;
    }

    @Test
    void linuxAutoconfigIdentifiesA16550AWithFifo() {
        assertThat(autoconfig()).isEqualTo(new Verdict("16550A", 16));
    }

    @Test
    void linuxSizeFifoCountsSixteenBytes() {
        assertThat(sizeFifo()).isEqualTo(16);
    }

    @Test
    void autoconfigLeavesThePortQuiet() {
        autoconfig();

        assertThat(in(IER)).isZero();
        assertThat(in(LSR)).isEqualTo(0x60);
        assertThat(in(MCR) & MCR_LOOP).isZero();
    }

    @Test
    void startupProbesFindNoThreOrTxenBug() {
        autoconfig();
        // serial8250_do_startup: clear and disable the FIFOs, read the status registers.
        out(FCR, 0x01);
        out(FCR, 0x07);
        out(FCR, 0);
        in(LSR);
        in(RX);
        in(IIR);
        in(MSR);
        assertThat(in(LSR)).isNotEqualTo(0xff); // "LSR safety check engaged" otherwise
        // UART_BUG_THRE: THRE must be raised on enabling ETBEI, and raised again after re-enabling it.
        out(IER, 0x02);
        int iir1 = in(IIR);
        out(IER, 0);
        out(IER, 0x02);
        int iir = in(IIR);
        out(IER, 0);
        boolean bugThre = (iir1 & 0x01) == 0 && (iir & 0x01) != 0;
        // UART_BUG_TXEN: with ETBEI on and the transmitter empty, IIR must not say "no interrupt".
        out(MCR, 0x0b); // DTR | RTS | OUT2
        out(IER, 0x02);
        boolean temt = (in(LSR) & 0x40) != 0;
        boolean noInt = (in(IIR) & 0x01) != 0;
        out(IER, 0);
        boolean bugTxen = temt && noInt;

        assertThat(iir1).isEqualTo(0x02);
        assertThat(iir).isEqualTo(0x02);
        assertThat(bugThre).isFalse();
        assertThat(bugTxen).isFalse();
    }
}
