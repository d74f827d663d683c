package dev.nimbus.hypervisor.arch;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PlatformDeviceTest {
    @Test
    void linuxS5WriteToSleepControlIsPowerOff() {
        // ACPICA's acpi_hw_extended_sleep writes (SLP_TYP << 2) | SLP_EN, SLP_TYP from _S5 (5): 0x34
        assertThat(PlatformDevice.AcpiPowerControl.isPowerOff(0x34)).isTrue();
    }

    @Test
    void sleepTypeWithoutSleepEnableIsNotPowerOff() {
        assertThat(PlatformDevice.AcpiPowerControl.isPowerOff(5 << 2)).isFalse();
    }

    @Test
    void otherSleepTypeIsNotPowerOff() {
        assertThat(PlatformDevice.AcpiPowerControl.isPowerOff((3 << 2) | 0x20)).isFalse();
    }

    @Test
    void portDevicesWithoutInterruptSayMinusOne() {
        assertThat(new PlatformDevice.DebugPort(0x80).irq()).isEqualTo(-1);
        assertThat(new PlatformDevice.AcpiPowerControl(0x600).irq()).isEqualTo(-1);
    }
}
