package dev.nimbus.devices.power;

import dev.nimbus.devices.testing.RecordingPowerControl;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Offsets: 0 sleep control, 1 sleep status, 2 reset (PlatformDevice.AcpiPowerControl). */
class AcpiPowerRegistersTest {
    final RecordingPowerControl power = new RecordingPowerControl();
    final AcpiPowerRegisters regs = new AcpiPowerRegisters(power);

    @Test
    void acpiSleepS5RequestsPowerOff() {
        // ACPICA's extended sleep: clear wake status, then (SLP_TYP 5 << 2) | SLP_EN.
        regs.write(1, 1, 0x80);
        regs.write(0, 1, 0x34);

        assertThat(power.requests()).containsExactly("power off");
    }

    @Test
    void sleepTypeWithoutSleepEnableDoesNothing() {
        regs.write(0, 1, 0x14);

        assertThat(power.requests()).isEmpty();
    }

    @Test
    void otherSleepStatesAreIgnored() {
        regs.write(0, 1, (3 << 2) | 0x20); // S3-like type with SLP_EN

        assertThat(power.requests()).isEmpty();
    }

    @Test
    void resetValueInResetRegisterRequestsReset() {
        regs.write(2, 1, 0x01);

        assertThat(power.requests()).containsExactly("reset");
    }

    @Test
    void otherResetValuesAreIgnored() {
        regs.write(2, 1, 0x06);
        regs.write(0, 1, 0x01); // the reset value in the wrong register

        assertThat(power.requests()).isEmpty();
    }

    @Test
    void registersReadZeroSoWakeStatusNeverSets() {
        assertThat(regs.read(0, 1)).isZero();
        assertThat(regs.read(1, 1)).isZero();
        assertThat(regs.read(2, 1)).isZero();
    }
}
