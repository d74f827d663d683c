package dev.nimbus.devices.ps2;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.bus.AddressSpace;
import dev.nimbus.devices.bus.Bus;
import dev.nimbus.devices.bus.RegisterWindow;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.RecordingPowerControl;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the i8042's register file, ports 0x60 (data) and 0x64 (status and command) as the
 * platform maps them: the fuzzer reads and writes either at 1, 2 or 4 bytes wide (the bus lets only a
 * byte through to each), commands first or data first. Invariants: nothing is thrown; the keyboard
 * interrupt line is high only while the status register shows a byte from the keyboard side waiting
 * (OBF set, AUXDATA clear), and goes low once it is read; a reset is asked for only by the commands that
 * pulse the reset line (0xf0-0xfe with bit 0 clear, or an output-port write with bit 0 clear).
 */
class I8042FuzzTest {
    static final long DATA_PORT = 0x60;
    static final long COMMAND_PORT = 0x64;

    @FuzzTest(maxDuration = "30s")
    void theControllerKeepsItsInterruptLineWithItsStatus(FuzzedDataProvider data) {
        RecordingIrqLine irq = new RecordingIrqLine();
        RecordingPowerControl power = new RecordingPowerControl();
        I8042Controller kbc = new I8042Controller(irq, power);
        Bus pio = new Bus(AddressSpace.PIO);
        pio.insert(DATA_PORT, 1, new RegisterWindow(kbc, I8042Controller.DATA));
        pio.insert(COMMAND_PORT, 1, new RegisterWindow(kbc, I8042Controller.COMMAND));
        int pending = -1; // the command waiting for a data byte, as far as this test can tell
        for (int op = 0; op < 128 && data.remainingBytes() > 0; op++) {
            long port = data.consumeBoolean() ? DATA_PORT : COMMAND_PORT;
            int size = 1 << data.consumeInt(0, 2);
            int resetsBefore = power.requests().size();
            boolean mayReset = false;
            if (data.consumeBoolean()) {
                int value = data.consumeInt(0, 0xff);
                pio.write(port, size, value);
                if (size > 1) {
                    // wider than the port's one byte: the bus drops it
                } else if (port == COMMAND_PORT) {
                    mayReset = (value & 0xf0) == 0xf0 && (value & 1) == 0;
                    pending = value;
                } else {
                    mayReset = pending == I8042Controller.CMD_WRITE_OUTPUT_PORT && (value & 1) == 0;
                    pending = -1;
                }
            } else {
                long value = pio.read(port, size);
                if (port == DATA_PORT && size == 1) {
                    assertThat(irq.high()).as("the line after the output byte was read").isFalse();
                }
                assertThat(value).as("an unmapped byte reads as ones").isLessThanOrEqualTo(size == 1 ? 0xff : (1L << 8 * size) - 1);
            }
            assertThat(power.requests().size() - resetsBefore).as("resets asked for").isLessThanOrEqualTo(mayReset ? 1 : 0);
            int status = (int) pio.read(COMMAND_PORT, 1);
            if (irq.high()) {
                assertThat(status & (I8042Controller.STR_OBF | I8042Controller.STR_AUXDATA)).as("status 0x%x with the line high", status)
                        .isEqualTo(I8042Controller.STR_OBF);
            }
        }
    }
}
