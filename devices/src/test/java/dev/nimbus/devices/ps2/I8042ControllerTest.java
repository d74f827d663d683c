package dev.nimbus.devices.ps2;

import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.RecordingPowerControl;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Offsets: 0 data (port 0x60), 4 status/command (port 0x64). Status bit 0 is "output buffer full". */
class I8042ControllerTest {
    final RecordingIrqLine irq = new RecordingIrqLine();
    final RecordingPowerControl power = new RecordingPowerControl();
    final I8042Controller kbc = new I8042Controller(irq, power);

    int status() {
        return (int) kbc.read(4, 1);
    }

    int data() {
        return (int) kbc.read(0, 1);
    }

    void command(int cmd) {
        kbc.write(4, 1, cmd);
    }

    void data(int value) {
        kbc.write(0, 1, value);
    }

    /** Linux's __i8042_command: write the command, its parameters, then read the replies if OBF says so. */
    Integer i8042Command(int cmd, Integer param) {
        command(cmd);
        if (param != null) {
            data(param);
        }
        return (status() & 0x01) != 0 ? data() : null;
    }

    @Test
    void i8042ResetCommandRequestsReset() {
        command(0xfe);

        assertThat(power.requests()).containsExactly("reset");
    }

    @Test
    void clearingResetBitOfOutputPortRequestsReset() {
        command(0xd1);
        data(0xfe);

        assertThat(power.requests()).containsExactly("reset");
    }

    @Test
    void pulseCommandWithoutResetBitDoesNotReset() {
        command(0xff);

        assertThat(power.requests()).isEmpty();
    }

    @Test
    void idleStatusSaysOutputBufferEmpty() {
        assertThat(status()).isEqualTo(0x14); // keyboard not inhibited | system flag, OBF and IBF clear
    }

    @Test
    void selfTestAnswers0x55() {
        assertThat(i8042Command(0xaa, null)).isEqualTo(0x55);
        assertThat(status() & 0x01).isZero();
    }

    @Test
    void commandByteCanBeWrittenAndReadBack() {
        command(0x60);
        data(0x30); // keyboard and AUX disabled, no interrupts

        assertThat(i8042Command(0x20, null)).isEqualTo(0x30);
    }

    @Test
    void auxPortIsReportedAbsentWithoutWaiting() {
        // Linux's i8042_check_aux: the AUX loop must echo its byte with the AUX data bit...
        command(0xd3);
        data(0x5a);
        assertThat(status() & 0x21).isEqualTo(0x01); // ...it comes back without it: the loop failed
        // ...then the AUX interface test: 0x00, 0xfa or 0xff would mean a usable port.
        assertThat(i8042Command(0xa9, null)).isEqualTo(0x02);
    }

    @Test
    void byteForTheMissingKeyboardTimesOut() {
        command(0x60);
        data(0x01 | 0x04); // keyboard interrupt on

        data(0xf2); // atkbd's GET ID

        assertThat(status() & 0x41).isEqualTo(0x41); // timeout | OBF
        assertThat(irq.high()).isTrue();
        assertThat(data()).isEqualTo(0xfe); // "resend": libps2 retries once, then fails the command
        assertThat(irq.high()).isFalse();
        assertThat(status() & 0x41).isZero();
    }

    @Test
    void keyboardInterruptStaysLowWhenDisabledInCommandByte() {
        command(0x60);
        data(0x04);

        assertThat(i8042Command(0x20, null)).isEqualTo(0x04);
        assertThat(irq.levels()).isEmpty();
    }

    @Test
    void linuxControllerInitFindsAStableCommandByte() {
        // i8042_controller_check: flush finds nothing; selftest; then CTR read twice must agree.
        assertThat(status() & 0x01).isZero();
        assertThat(i8042Command(0xaa, null)).isEqualTo(0x55);
        int ctr1 = i8042Command(0x20, null);
        int ctr2 = i8042Command(0x20, null);
        assertThat(ctr1).isEqualTo(ctr2);
        // Disable the keyboard and its interrupt and write it back.
        int ctr = (ctr1 | 0x10) & ~0x01;
        assertThat(i8042Command(0x60, ctr)).isNull();
        assertThat(i8042Command(0x20, null)).isEqualTo(ctr);
    }
}
