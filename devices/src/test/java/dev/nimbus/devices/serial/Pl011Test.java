package dev.nimbus.devices.serial;

import dev.nimbus.devices.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PL011 as Linux's amba-pl011 sees it. Offsets: DR 0x00, RSR/ECR 0x04, FR 0x18, LCR_H 0x2C, CR 0x30,
 * IFLS 0x34, IMSC 0x38, RIS 0x3C, MIS 0x40, ICR 0x44. Interrupt bits: RX 0x10, TX 0x20, RT 0x40, OE 0x400.
 * Linux uses 16-bit accesses unless the device tree says reg-io-width = 4.
 */
class Pl011Test {
    final RecordingIrqLine irq = new RecordingIrqLine();
    final ByteArrayOutputStream host = new ByteArrayOutputStream();
    final Pl011 uart = new Pl011(irq, host);

    int in(int reg) {
        return (int) (uart.read(reg, 2) & 0xffff);
    }

    void out(int reg, int value) {
        uart.write(reg, 2, value);
    }

    void hostTypes(String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        assertThat(uart.offer(b, 0, b.length)).isEqualTo(b.length);
    }

    @Test
    void idsIdentifyAnArmPl011() {
        long periph = 0;
        long cell = 0;
        for (int i = 0; i < 4; i++) {
            periph |= (uart.read(0xfe0 + 4 * i, 4) & 0xff) << (8 * i);
            cell |= (uart.read(0xff0 + 4 * i, 4) & 0xff) << (8 * i);
        }

        assertThat(periph & 0x000f_ffffL).isEqualTo(0x0004_1011L); // what amba-pl011 matches
        assertThat((periph >> 20) & 0xf).isEqualTo(1); // revision 1: 16-byte FIFOs
        assertThat(cell).isEqualTo(0xb105_f00dL);
    }

    @Test
    void flagsShowBothFifosEmptyAndTheHostLinesUp() {
        assertThat(in(0x18)).isEqualTo(0x97); // TXFE | RXFE | DCD | DSR | CTS, not BUSY, not TXFF
    }

    @Test
    void transmittedBytesReachTheSink() {
        for (byte b : "Booting Linux\n".getBytes(StandardCharsets.US_ASCII)) {
            out(0x00, b);
        }

        assertThat(host.toString(StandardCharsets.US_ASCII)).isEqualTo("Booting Linux\n");
    }

    @Test
    void bytesBelowTheTriggerLevelRaiseTheReceiveTimeout() {
        out(0x2c, 0x70);        // LCR_H: 8 bits, FIFOs on
        out(0x38, 0x50);        // IMSC: RTIM | RXIM
        hostTypes("ls");

        assertThat(in(0x3c) & 0x50).isEqualTo(0x40); // RT, not RX: 2 < 8 (IFLS 1/2)
        assertThat(in(0x40)).isEqualTo(0x40);
        assertThat(irq.high()).isTrue();
        assertThat(in(0x00)).isEqualTo('l');
        assertThat(in(0x00)).isEqualTo('s');
        assertThat(irq.high()).isFalse();
        assertThat(in(0x18) & 0x10).isEqualTo(0x10); // RXFE
    }

    @Test
    void receiveInterruptAtTheTriggerLevel() {
        out(0x2c, 0x70);
        out(0x34, 0x00); // IFLS: receive at 1/8 (2 bytes)
        hostTypes("ab");

        assertThat(in(0x3c) & 0x50).isEqualTo(0x10);
    }

    @Test
    void transmitInterruptIsAlwaysRaisedAndMaskedUntilWanted() {
        assertThat(in(0x3c) & 0x20).isEqualTo(0x20);
        assertThat(irq.high()).isFalse();

        out(0x38, 0x20); // TXIM, as pl011_start_tx does while bytes wait
        assertThat(irq.high()).isTrue();
        out(0x38, 0x00); // pl011_stop_tx
        assertThat(irq.high()).isFalse();
    }

    @Test
    void loopbackOverrunIsStickyUntilCleared() {
        out(0x2c, 0x70);
        out(0x30, 0x381); // UARTEN | TXE | RXE | LBE
        for (int i = 0; i < 17; i++) {
            out(0x00, 'a' + i);
        }

        assertThat(host.size()).isZero();
        assertThat(in(0x18) & 0x40).isEqualTo(0x40); // RXFF
        assertThat(in(0x04)).isEqualTo(0x08);        // RSR: overrun
        assertThat(in(0x3c) & 0x400).isEqualTo(0x400);
        out(0x44, 0x400);                            // ICR
        out(0x04, 0);                                // ECR
        assertThat(in(0x3c) & 0x400).isZero();
        assertThat(in(0x04)).isZero();
        assertThat(in(0x00)).isEqualTo('a');         // the FIFO kept the first 16
    }

    @Test
    void withFifosOffTheReceiverHoldsOneByte() {
        byte[] two = {'x', 'y'};

        assertThat(uart.offer(two, 0, 2)).isEqualTo(1);
        assertThat(in(0x18) & 0x40).isEqualTo(0x40); // RXFF: the holding register is full
    }

    @Test
    void hostInputWaitsWhileInLoopback() {
        out(0x30, 0x381);

        assertThat(uart.offer(new byte[] {'q'}, 0, 1)).isZero();
    }
}
