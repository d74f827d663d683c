package dev.nimbus.devices.power;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.hypervisor.arch.PlatformDevice.AcpiGenericEventDevice;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The GED's saved state: events the guest had not read yet are still there for it after a restore, once. */
class GenericEventDeviceStateTest {
    @Test
    void aPressTheGuestHadNotReadIsReadFromTheRestoredDeviceOnce() {
        GenericEventDevice saved = new GenericEventDevice(new RecordingIrqLine());
        saved.pressPowerButton();
        RecordingIrqLine irq = new RecordingIrqLine();
        GenericEventDevice fresh = new GenericEventDevice(irq);

        fresh.restoreState(saved.saveState());

        assertThat(fresh.read(0, 4)).isEqualTo(AcpiGenericEventDevice.POWER_BUTTON);
        assertThat(fresh.read(0, 4)).isZero();
        assertThat(irq.levels()).as("the guest was interrupted for the press before the save").isEmpty();
    }

    @Test
    void aStateWithNothingPendingRestoresToNothingPending() {
        GenericEventDevice fresh = new GenericEventDevice(new RecordingIrqLine());
        fresh.restoreState(new GenericEventDevice(new RecordingIrqLine()).saveState());

        assertThat(fresh.pending()).isZero();
    }

    @Test
    void aStateOfTheWrongSizeIsRefused() {
        GenericEventDevice fresh = new GenericEventDevice(new RecordingIrqLine());

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(GenericEventDevice.STATE_ID, 1, new byte[2])))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("2 bytes");
    }
}
