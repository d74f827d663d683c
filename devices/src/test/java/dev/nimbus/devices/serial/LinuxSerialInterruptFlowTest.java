package dev.nimbus.devices.serial;

import dev.nimbus.devices.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An interrupt-driven tty on the UART, the way Linux's 8250 driver runs one (8250_port.c: start_tx sets
 * IER.THRI; the interrupt handler reads IIR, then LSR, reads bytes while LSR.DR, writes up to the FIFO size
 * to THR when LSR.THRE and IER.THRI, and clears IER.THRI when nothing is left to send). The test plays the
 * interrupt controller: it runs the handler whenever the line is high.
 */
class LinuxSerialInterruptFlowTest {
    static final int RX = 0, TX = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6;
    static final int IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04;

    final RecordingIrqLine line = new RecordingIrqLine();
    final ByteArrayOutputStream host = new ByteArrayOutputStream();
    final Serial16550 uart = new Serial16550(line, host);
    final StringBuilder pendingTx = new StringBuilder();
    final StringBuilder received = new StringBuilder();
    int ier;
    int interrupts;

    int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    void out(int reg, int value) {
        uart.write(reg, 1, value);
    }

    /** serial8250_do_startup and set_termios, reduced to the register writes that matter here. */
    void startup() {
        out(LCR, 0x83);
        out(0, 0x01);
        out(1, 0x00);
        out(LCR, 0x03);
        out(FCR, 0x07 | 0x80); // FIFO on, cleared, trigger level 8
        out(MCR, 0x0b); // DTR | RTS | OUT2
        ier = IER_RLSI | IER_RDI;
        out(IER, ier);
    }

    void write(String text) {
        pendingTx.append(text);
        if ((ier & IER_THRI) == 0) { // __start_tx
            ier |= IER_THRI;
            out(IER, ier);
        }
        deliverInterrupts();
    }

    void deliverInterrupts() {
        while (line.high()) {
            interrupts++;
            handleIrq();
        }
    }

    void handleIrq() {
        int iir = in(IIR);
        if ((iir & 0x01) != 0) {
            return;
        }
        int lsr = in(LSR);
        while ((lsr & 0x01) != 0) {
            received.append((char) in(RX));
            lsr = in(LSR);
        }
        in(MSR);
        if ((lsr & 0x20) != 0 && (ier & IER_THRI) != 0) {
            int count = Serial16550.FIFO_SIZE;
            while (count-- > 0 && !pendingTx.isEmpty()) {
                out(TX, pendingTx.charAt(0));
                pendingTx.deleteCharAt(0);
            }
            if (pendingTx.isEmpty()) { // __stop_tx
                ier &= ~IER_THRI;
                out(IER, ier);
            }
        }
    }

    @Test
    void longWriteGoesOutInFifoSizedBurstsAndTheLineEndsLow() {
        startup();
        String text = "Debian GNU/Linux 12 nimbus ttyS0\r\n\r\nnimbus login: ";

        write(text);

        assertThat(host.toString(StandardCharsets.US_ASCII)).isEqualTo(text);
        assertThat(interrupts).isEqualTo((text.length() + 15) / 16); // one per burst; the last one stops
        assertThat(line.high()).isFalse();
        assertThat(in(IIR)).isEqualTo(0xc1);
    }

    @Test
    void typedLineIsReceivedThroughRxInterrupts() {
        startup();
        byte[] typed = "root\r".getBytes(StandardCharsets.US_ASCII);

        uart.offer(typed, 0, typed.length); // below the trigger level: a character timeout
        deliverInterrupts();

        assertThat(received.toString()).isEqualTo("root\r");
        assertThat(line.high()).isFalse();
    }

    @Test
    void echoWhileReceivingKeepsBothDirectionsFlowing() {
        startup();
        byte[] typed = "ls -l /proc/self/fd\r".getBytes(StandardCharsets.US_ASCII);

        uart.offer(typed, 0, 16);
        deliverInterrupts();
        write(received.toString()); // the tty echoes what came in
        uart.offer(typed, 16, typed.length - 16);
        deliverInterrupts();
        write(received.substring(16));

        assertThat(received.toString()).isEqualTo("ls -l /proc/self/fd\r");
        assertThat(host.toString(StandardCharsets.US_ASCII)).isEqualTo("ls -l /proc/self/fd\r");
        assertThat(line.high()).isFalse();
    }
}
