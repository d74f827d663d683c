package dev.nimbus.devices.serial;

import dev.nimbus.devices.console.ConsoleInput;
import dev.nimbus.devices.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The 16550A as a guest driver sees it. Register offsets: 0 RBR/THR (DLL), 1 IER (DLM), 2 IIR/FCR, 3 LCR,
 * 4 MCR, 5 LSR, 6 MSR, 7 SCR.
 */
class Serial16550Test {
    static final int RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    final RecordingIrqLine irq = new RecordingIrqLine();
    final ByteArrayOutputStream host = new ByteArrayOutputStream();
    final Serial16550 uart = new Serial16550(irq, host);

    int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    void out(int reg, int value) {
        uart.write(reg, 1, value);
    }

    void hostTypes(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        assertThat(uart.offer(bytes, 0, bytes.length)).isEqualTo(bytes.length);
    }

    @Test
    void resetStateIsIdleWithEmptyTransmitter() {
        assertThat(in(IER)).isEqualTo(0x00);
        assertThat(in(IIR)).isEqualTo(0x01); // no interrupt, FIFOs off
        assertThat(in(LSR)).isEqualTo(0x60); // THRE | TEMT
        assertThat(in(MSR)).isEqualTo(0xb0); // DCD | DSR | CTS from the host side
        assertThat(irq.high()).isFalse();
    }

    @Test
    void transmittedBytesReachTheSink() {
        for (byte b : "ok\n".getBytes(StandardCharsets.US_ASCII)) {
            out(THR, b);
        }

        assertThat(host.toString(StandardCharsets.US_ASCII)).isEqualTo("ok\n");
        assertThat(in(LSR) & 0x60).isEqualTo(0x60);
    }

    @Test
    void lineStatusReportsDataReadyAfterHostInput() {
        assertThat(in(LSR) & 0x01).isZero();

        hostTypes("a");

        assertThat(in(LSR)).isEqualTo(0x61); // DR | THRE | TEMT
        assertThat(in(RBR)).isEqualTo('a');
        assertThat(in(LSR)).isEqualTo(0x60);
    }

    @Test
    void receivedDataInterruptRaisedWhenEnabled() {
        out(IER, 0x01); // ERBFI
        hostTypes("x");

        assertThat(in(IIR)).isEqualTo(0x04);
        assertThat(irq.high()).isTrue();
        in(RBR);
        assertThat(in(IIR)).isEqualTo(0x01);
        assertThat(irq.high()).isFalse();
    }

    @Test
    void bytesBelowTheTriggerLevelReportACharacterTimeout() {
        out(FCR, 0x41); // FIFO on, trigger level 4
        out(IER, 0x01);

        hostTypes("ab");
        assertThat(in(IIR)).isEqualTo(0xcc); // FIFOs on | character timeout

        hostTypes("cd");
        assertThat(in(IIR)).isEqualTo(0xc4); // FIFOs on | data available at the trigger level
    }

    @Test
    void thrEmptyInterruptRaisedWhenEnabled() {
        out(IER, 0x02); // ETBEI, THR empty

        assertThat(in(IIR)).isEqualTo(0x02);
        assertThat(irq.levels()).containsExactly(true, false); // raised, then cleared by the IIR read
    }

    @Test
    void readingIirClearsTheThrEmptyInterrupt() {
        out(IER, 0x02);

        assertThat(in(IIR)).isEqualTo(0x02);
        assertThat(in(IIR)).isEqualTo(0x01);
        assertThat(irq.high()).isFalse();
    }

    @Test
    void writingThrRaisesThrEmptyAgainOnceTheByteIsSent() {
        out(IER, 0x02);
        in(IIR);

        out(THR, 'z');

        assertThat(irq.high()).isTrue();
        assertThat(in(IIR)).isEqualTo(0x02);
    }

    @Test
    void thrEmptyReassertedWhenEtbeiIsSetAgain() {
        out(IER, 0x02);
        assertThat(in(IIR)).isEqualTo(0x02);
        assertThat(in(IIR)).isEqualTo(0x01);

        out(IER, 0x00);
        out(IER, 0x02);

        assertThat(in(IIR)).isEqualTo(0x02);
    }

    @Test
    void fifoOverrunSetsOverrunError() {
        out(FCR, 0x01);     // FIFO on
        out(MCR, 0x10);     // loopback: THR feeds the receiver
        for (int i = 0; i < 17; i++) {
            out(THR, i);
        }

        assertThat(in(LSR)).isEqualTo(0x63); // DR | OE | THRE | TEMT
        assertThat(in(LSR)).isEqualTo(0x61); // reading LSR clears OE
        for (int i = 0; i < 16; i++) {
            assertThat(in(RBR)).isEqualTo(i); // the FIFO kept the first 16; the 17th was lost
        }
        assertThat(in(LSR) & 0x01).isZero();
    }

    @Test
    void overrunWithFifoOffReplacesTheUnreadByte() {
        out(MCR, 0x10);
        out(THR, 'a');
        out(THR, 'b');

        assertThat(in(LSR)).isEqualTo(0x63);
        assertThat(in(RBR)).isEqualTo('b');
        assertThat(in(LSR) & 0x01).isZero();
    }

    @Test
    void lineStatusInterruptOutranksReceivedData() {
        out(FCR, 0x01);
        out(IER, 0x07); // ELSI | ETBEI | ERBFI
        out(MCR, 0x10);
        for (int i = 0; i < 17; i++) {
            out(THR, i);
        }

        assertThat(in(IIR)).isEqualTo(0xc6); // line status
        in(LSR);
        assertThat(in(IIR)).isEqualTo(0xc4); // then the full FIFO
    }

    @Test
    void loopbackEchoesTransmittedByte() {
        out(MCR, 0x10);
        out(THR, 0x5a);

        assertThat(in(LSR) & 0x01).isEqualTo(0x01);
        assertThat(in(RBR)).isEqualTo(0x5a);
        assertThat(host.size()).isZero(); // nothing left on the line
    }

    @Test
    void loopbackFeedsModemControlToModemStatus() {
        out(MCR, 0x10 | 0x0a); // LOOP | OUT2 | RTS

        assertThat(in(MSR) & 0xf0).isEqualTo(0x90); // DCD | CTS

        out(MCR, 0x10 | 0x05); // LOOP | OUT1 | DTR
        assertThat(in(MSR)).isEqualTo(0x60 | 0x0b); // RI | DSR, deltas DDCD | DDSR | DCTS
    }

    @Test
    void modemStatusInterruptOnDeltaIsClearedByReadingMsr() {
        out(IER, 0x08); // EDSSI
        out(MCR, 0x10); // loopback drops the host's CTS, DSR and DCD

        assertThat(in(IIR)).isEqualTo(0x00);
        assertThat(irq.high()).isTrue();
        assertThat(in(MSR)).isEqualTo(0x0b);
        assertThat(in(IIR)).isEqualTo(0x01);
        assertThat(irq.high()).isFalse();
    }

    @Test
    void hostInputWaitsWhileInLoopback() {
        out(MCR, 0x10);

        assertThat(uart.offer(new byte[] {'q'}, 0, 1)).isZero();
        out(MCR, 0x00);
        assertThat(uart.offer(new byte[] {'q'}, 0, 1)).isEqualTo(1);
    }

    @Test
    void hostInputTakesOnlyWhatFitsTheFifo() {
        out(FCR, 0x01);
        byte[] paste = new byte[20];

        assertThat(uart.offer(paste, 0, paste.length)).isEqualTo(16);
        assertThat(in(LSR) & 0x02).isZero(); // no overrun: the rest waits on the host side
    }

    @Test
    void clearingTheReceiveFifoDropsItsBytes() {
        out(FCR, 0x01);
        hostTypes("abc");

        out(FCR, 0x03); // FIFO on | clear RX

        assertThat(in(LSR) & 0x01).isZero();
    }

    @Test
    void dlabSelectsTheDivisorLatch() {
        out(IER, 0x05);
        out(LCR, 0x83); // DLAB | 8 bits
        out(DLL, 0x01);
        out(DLM, 0x00);

        assertThat(in(DLL)).isEqualTo(0x01);
        assertThat(in(DLM)).isEqualTo(0x00);
        out(LCR, 0x03);
        assertThat(in(IER)).isEqualTo(0x05);
        assertThat(host.size()).isZero(); // the DLL write was not a transmit
    }

    @Test
    void scratchRegisterHoldsItsValue() {
        out(SCR, 0xa5);

        assertThat(in(SCR)).isEqualTo(0xa5);
    }

    @Test
    void ierKeepsOnlyTheFourStandardBits() {
        out(IER, 0xff);

        assertThat(in(IER)).isEqualTo(0x0f);
    }

    @Test
    void failingSinkDropsOutputWithoutFailingTheGuest() {
        Serial16550 broken = new Serial16550(irq, new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("broken pipe");
            }
        });

        broken.write(THR, 1, 'x');

        assertThat(broken.read(LSR, 1)).isEqualTo(0x60);
    }

    @Test
    void hostInputLongerThanTheFifoWaitsForRoomAsTheGuestReads() throws Exception {
        // what the VMM's terminal reader does through ConsoleInput: receive blocks until the guest drains the FIFO
        out(FCR, 0x01);
        byte[] text = "hello, guest, this is more than sixteen bytes".getBytes(StandardCharsets.US_ASCII);
        ConsoleInput input = uart;
        Thread host = Thread.ofPlatform().start(() -> {
            try {
                input.receive(text, 0, text.length);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        StringBuilder seen = new StringBuilder();
        while (seen.length() < text.length) {
            if ((in(LSR) & 0x01) != 0) {
                seen.append((char) in(RBR));
            } else {
                Thread.onSpinWait();
            }
        }
        host.join(10_000);
        assertThat(host.isAlive()).isFalse();
        assertThat(seen.toString()).isEqualTo(new String(text, StandardCharsets.US_ASCII));
    }
}
