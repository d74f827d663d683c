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

/** The 16550A's saved state: a fresh UART given it answers the guest as the saved one does, interrupt included. */
class Serial16550StateTest {
    static final int RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    /** A UART a driver has set up (115200 8N1, FIFOs on with trigger 8, RX and line interrupts) with typed input waiting. */
    private static Serial16550 programmed(RecordingIrqLine irq) {
        Serial16550 uart = new Serial16550(irq, OutputStream.nullOutputStream());
        uart.write(LCR, 1, 0x83); // DLAB, 8 bits
        uart.write(DLL, 1, 0x01);
        uart.write(DLM, 1, 0x00);
        uart.write(LCR, 1, 0x03);
        uart.write(FCR, 1, 0x81); // FIFOs on, trigger level 8
        uart.write(IER, 1, 0x05); // received data and line status interrupts
        uart.write(MCR, 1, 0x0b); // DTR, RTS, OUT2
        uart.write(SCR, 1, 0x5a);
        byte[] typed = "hello".getBytes(StandardCharsets.US_ASCII);
        assertThat(uart.offer(typed, 0, typed.length)).isEqualTo(typed.length);
        return uart;
    }

    /** What a guest reads going over every register and then draining the receive FIFO (reads have side effects). */
    private static List<Integer> guestView(Serial16550 uart) {
        List<Integer> seen = new ArrayList<>();
        for (int reg : new int[] {IER, IIR, LCR, MCR, LSR, MSR, SCR}) {
            seen.add((int) uart.read(reg, 1));
        }
        uart.write(LCR, 1, 0x83);
        seen.add((int) uart.read(DLL, 1));
        seen.add((int) uart.read(DLM, 1));
        uart.write(LCR, 1, 0x03);
        while ((uart.read(LSR, 1) & 0x01) != 0) {
            seen.add((int) uart.read(RBR, 1));
        }
        seen.add((int) uart.read(IIR, 1));
        return seen;
    }

    @Test
    void aFreshUartGivenTheStateAnswersTheGuestAsTheSavedOneDoes() {
        Serial16550 saved = programmed(new RecordingIrqLine());
        DeviceState state = saved.saveState();
        Serial16550 fresh = new Serial16550(new RecordingIrqLine(), OutputStream.nullOutputStream());

        fresh.restoreState(state);

        List<Integer> expected = guestView(saved);
        assertThat(guestView(fresh)).isEqualTo(expected).contains((int) 'h', (int) 'o');
    }

    @Test
    void restoreDrivesTheInterruptLineThatTheStateHasPending() {
        RecordingIrqLine savedIrq = new RecordingIrqLine();
        DeviceState state = programmed(savedIrq).saveState();
        assertThat(savedIrq.high()).as("five bytes below the trigger: a character timeout is pending").isTrue();
        RecordingIrqLine freshIrq = new RecordingIrqLine();
        Serial16550 fresh = new Serial16550(freshIrq, OutputStream.nullOutputStream());

        fresh.restoreState(state);

        assertThat(freshIrq.high()).isTrue();
        assertThat(fresh.read(IIR, 1)).isEqualTo(0xcc); // FIFOs enabled, character timeout
    }

    @Test
    void transmitAfterRestoreGoesToTheNewDevicesOutput() {
        DeviceState state = programmed(new RecordingIrqLine()).saveState();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Serial16550 fresh = new Serial16550(new RecordingIrqLine(), out);
        fresh.restoreState(state);

        fresh.write(RBR, 1, 'x'); // DLAB is clear in the state: this is THR

        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("x");
    }

    @Test
    void statesOfAnotherDeviceOrVersionOrOutOfRangeAreRefusedAndChangeNothing() {
        DeviceState good = programmed(new RecordingIrqLine()).saveState();
        byte[] tooMany = good.data();
        tooMany[10] = 17; // more bytes than the FIFO holds
        Serial16550 fresh = new Serial16550(new RecordingIrqLine(), OutputStream.nullOutputStream());
        List<Integer> untouched = guestView(new Serial16550(new RecordingIrqLine(), OutputStream.nullOutputStream()));

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState("acpi-ged", 1, good.data())))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("acpi-ged");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Serial16550.STATE_ID, 2, good.data())))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("version 2");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Serial16550.STATE_ID, 1, tooMany)))
                .isInstanceOf(DeviceStateException.class);
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Serial16550.STATE_ID, 1, new byte[3])))
                .isInstanceOf(DeviceStateException.class);
        assertThat(guestView(fresh)).isEqualTo(untouched);
    }
}
