package dev.nimbus.devices.serial;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.testing.RecordingIrqLine;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The PL011's saved state: a fresh UART given it answers amba-pl011 as the saved one does, interrupt included. */
class Pl011StateTest {
    /** A UART as Linux leaves it (FIFOs on, RX and timeout interrupts unmasked) with typed input waiting. */
    private static Pl011 programmed(RecordingIrqLine irq) {
        Pl011 uart = new Pl011(irq, OutputStream.nullOutputStream());
        uart.write(Pl011.IBRD, 4, 13);
        uart.write(Pl011.FBRD, 4, 1);
        uart.write(Pl011.LCR_H, 4, 0x70); // 8 bits, FIFOs on
        uart.write(Pl011.IFLS, 4, 0x12);
        uart.write(Pl011.IMSC, 4, Pl011.INT_RX | Pl011.INT_RT);
        uart.write(Pl011.CR, 4, 0x301);
        byte[] typed = "ls\n".getBytes(StandardCharsets.US_ASCII);
        assertThat(uart.offer(typed, 0, typed.length)).isEqualTo(typed.length);
        return uart;
    }

    /** What the driver reads: every register, then the receive FIFO drained. */
    private static List<Long> guestView(Pl011 uart) {
        List<Long> seen = new ArrayList<>();
        for (int reg : new int[] {Pl011.FR, Pl011.IBRD, Pl011.FBRD, Pl011.LCR_H, Pl011.CR, Pl011.IFLS, Pl011.IMSC, Pl011.RIS, Pl011.MIS}) {
            seen.add(uart.read(reg, 4));
        }
        while ((uart.read(Pl011.FR, 4) & Pl011.FR_RXFE) == 0) {
            seen.add(uart.read(Pl011.DR, 4));
        }
        seen.add(uart.read(Pl011.MIS, 4));
        return seen;
    }

    @Test
    void aFreshUartGivenTheStateAnswersAsTheSavedOneAndRaisesItsInterrupt() {
        Pl011 saved = programmed(new RecordingIrqLine());
        DeviceState state = saved.saveState();
        RecordingIrqLine irq = new RecordingIrqLine();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Pl011 fresh = new Pl011(irq, out);

        fresh.restoreState(state);

        assertThat(irq.high()).as("the receive timeout is pending").isTrue();
        assertThat(guestView(fresh)).isEqualTo(guestView(saved)).contains((long) 'l', (long) 's');
        fresh.write(Pl011.DR, 4, 'x');
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("x");
    }

    @Test
    void moreBytesThanTheFifoOrABadFieldIsRefusedAndChangesNothing() {
        byte[] d = programmed(new RecordingIrqLine()).saveState().data();
        Pl011 fresh = new Pl011(new RecordingIrqLine(), OutputStream.nullOutputStream());
        List<Long> untouched = guestView(new Pl011(new RecordingIrqLine(), OutputStream.nullOutputStream()));
        byte[] tooMany = d.clone();
        tooMany[14] = 17; // count
        byte[] badFbrd = d.clone();
        badFbrd[3] = 0x40;

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Pl011.STATE_ID, 1, tooMany)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("receive FIFO count");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Pl011.STATE_ID, 1, badFbrd)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("FBRD");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Serial16550.STATE_ID, 1, d)))
                .isInstanceOf(DeviceStateException.class);
        assertThat(guestView(fresh)).isEqualTo(untouched);
    }
}
