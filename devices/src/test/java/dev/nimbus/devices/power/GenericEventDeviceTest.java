package dev.nimbus.devices.power;

import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.hypervisor.arch.PlatformDevice.AcpiGenericEventDevice;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The event register the DSDT's _EVT reads (PlatformDevice.AcpiGenericEventDevice): read to clear, edge interrupt. */
class GenericEventDeviceTest {
    final RecordingIrqLine irq = new RecordingIrqLine();
    final GenericEventDevice ged = new GenericEventDevice(irq);

    @Test
    void aPressSetsThePowerButtonBitAndPulsesTheInterrupt() {
        ged.pressPowerButton();

        assertThat(ged.pending()).isEqualTo(AcpiGenericEventDevice.POWER_BUTTON);
        assertThat(irq.levels()).containsExactly(true, false);
    }

    @Test
    void theDwordReadOfEvtReturnsThePendingBitsAndClearsThem() {
        ged.pressPowerButton();

        assertThat(ged.read(0, 4)).isEqualTo(8);
        assertThat(ged.read(0, 4)).isZero();
        assertThat(ged.pending()).isZero();
    }

    @Test
    void pressesBeforeTheGuestReadsAreMergedIntoOneEventButEachPulses() {
        ged.pressPowerButton();
        ged.pressPowerButton();

        assertThat(irq.levels()).containsExactly(true, false, true, false);
        assertThat(ged.read(0, 4)).isEqualTo(8);
        assertThat(ged.read(0, 4)).isZero();
    }

    @Test
    void aByteReadClearsOnlyWhatItReturned() {
        ged.pressPowerButton();

        assertThat(ged.read(0, 1)).isEqualTo(8);
        assertThat(ged.read(0, 1)).isZero();
    }

    @Test
    void writesAndOtherOffsetsChangeNothing() {
        ged.pressPowerButton();
        ged.write(0, 4, 0xffff_ffffL);

        assertThat(ged.read(1, 1)).isZero();
        assertThat(ged.read(0, 4)).isEqualTo(8);
    }

    @Test
    void noPressNoEvent() {
        assertThat(ged.read(0, 4)).isZero();
        assertThat(irq.levels()).isEmpty();
    }
}
