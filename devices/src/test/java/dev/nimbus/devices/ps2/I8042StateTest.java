package dev.nimbus.devices.ps2;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.RecordingPowerControl;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The i8042's saved state: the command byte, a reply the guest has not read and a command waiting for its data byte. */
class I8042StateTest {
    @Test
    void aRestoredControllerHoldsTheUnreadReplyAndTheCommandWaitingForData() {
        I8042Controller saved = new I8042Controller(new RecordingIrqLine(), new RecordingPowerControl());
        saved.write(I8042Controller.COMMAND, 1, I8042Controller.CMD_WRITE_CTR);
        saved.write(I8042Controller.DATA, 1, 0x47); // CTR: keyboard interrupt, SYS, XLATE, 0x02
        saved.write(I8042Controller.COMMAND, 1, I8042Controller.CMD_SELF_TEST); // 0x55 waits in the output buffer
        DeviceState state = saved.saveState();
        RecordingIrqLine irq = new RecordingIrqLine();
        RecordingPowerControl power = new RecordingPowerControl();
        I8042Controller fresh = new I8042Controller(irq, power);

        fresh.restoreState(state);

        assertThat(irq.high()).as("the unread reply keeps the keyboard interrupt up").isTrue();
        assertThat(fresh.read(I8042Controller.COMMAND, 1)).isEqualTo(saved.read(I8042Controller.COMMAND, 1));
        assertThat(fresh.read(I8042Controller.DATA, 1)).isEqualTo(0x55);
        fresh.write(I8042Controller.COMMAND, 1, I8042Controller.CMD_READ_CTR);
        assertThat(fresh.read(I8042Controller.DATA, 1)).isEqualTo(0x47);

        saved.write(I8042Controller.COMMAND, 1, I8042Controller.CMD_WRITE_OUTPUT_PORT);
        I8042Controller waiting = new I8042Controller(new RecordingIrqLine(), power);
        waiting.restoreState(saved.saveState());
        waiting.write(I8042Controller.DATA, 1, 0x02); // the data byte of 0xD1: reset line pulled low
        assertThat(power.requests()).containsExactly("reset");
    }

    @Test
    void aStateWithACommandThatTakesNoDataOrUnknownFlagsIsRefused() {
        I8042Controller fresh = new I8042Controller(new RecordingIrqLine(), new RecordingPowerControl());
        int status = (int) fresh.read(I8042Controller.COMMAND, 1);

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(I8042Controller.STATE_ID, 1, new byte[] {0x45, 3, (byte) 0xaa, 0, 0})))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("pending command");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(I8042Controller.STATE_ID, 1, new byte[] {0x45, 3, 0, 0, 0x10})))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("flags");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(I8042Controller.STATE_ID, 1, new byte[] {0x45, 3, 0, 0})))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("flags");
        assertThat(fresh.read(I8042Controller.COMMAND, 1)).isEqualTo(status);
    }
}
