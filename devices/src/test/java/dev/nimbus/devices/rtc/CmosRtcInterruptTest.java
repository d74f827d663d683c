package dev.nimbus.devices.rtc;

import dev.nimbus.devices.testing.ManualWakeups;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.SettableClock;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Register C and IRQ 8. Register B: 0x10 UIE, 0x20 AIE, 0x02 24-hour. Register C: 0x80 IRQF, 0x20 AF, 0x10 UF.
 */
class CmosRtcInterruptTest {
    final SettableClock clock = SettableClock.at("2026-11-24T13:45:07.500Z");
    final ManualWakeups wakeups = new ManualWakeups(clock);
    final RecordingIrqLine irq = new RecordingIrqLine();
    final CmosRtc rtc = new CmosRtc(clock, irq, wakeups, 0, 0);

    int cmos(int index) {
        rtc.write(0, 1, index);
        return (int) rtc.read(1, 1);
    }

    void cmos(int index, int value) {
        rtc.write(0, 1, index);
        rtc.write(1, 1, value);
    }

    @Test
    void updateEndedFlagIsSetOncePerSecondWithoutAnInterrupt() {
        clock.set(Instant.parse("2026-11-24T13:45:08.100Z"));

        assertThat(cmos(0x0c)).isEqualTo(0x10); // UF, no IRQF: UIE is off
        assertThat(cmos(0x0c)).isEqualTo(0x00); // reading C cleared it
        assertThat(irq.levels()).isEmpty();
        assertThat(wakeups.pending()).isEmpty(); // nothing enabled, no host timer
    }

    @Test
    void updateInterruptRaisesIrqAtTheNextSecond() {
        cmos(0x0b, 0x12); // UIE | 24-hour
        assertThat(wakeups.pending()).containsExactly(Instant.parse("2026-11-24T13:45:08Z"));

        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:08.001Z"));

        assertThat(irq.high()).isTrue();
        assertThat(cmos(0x0c)).isEqualTo(0x90); // IRQF | UF
        assertThat(irq.high()).isFalse();
        assertThat(wakeups.pending()).containsExactly(Instant.parse("2026-11-24T13:45:09Z"));
    }

    @Test
    void noTimerRunsWhileTheInterruptWaitsForTheGuest() {
        cmos(0x0b, 0x12);
        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:08.001Z"));

        assertThat(irq.high()).isTrue();
        assertThat(wakeups.pending()).isEmpty();
    }

    @Test
    void alarmInterruptRaisesIrqWhenTheTimeMatches() {
        cmos(0x01, 0x10); // alarm 13:45:10 (BCD)
        cmos(0x03, 0x45);
        cmos(0x05, 0x13);
        cmos(0x0b, 0x22); // AIE | 24-hour

        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:09.500Z"));
        assertThat(irq.high()).isFalse();

        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:10.001Z"));
        assertThat(irq.high()).isTrue();
        assertThat(cmos(0x0c)).isEqualTo(0xb0); // IRQF | AF | UF
    }

    @Test
    void alarmRegistersOf0xC0AndAboveMatchAnything() {
        cmos(0x01, 0x00); // at second 0 of every minute of every hour
        cmos(0x03, 0xc0);
        cmos(0x05, 0xff);
        cmos(0x0b, 0x22);

        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:59.999Z"));
        assertThat(irq.high()).isFalse();
        wakeups.advanceTo(Instant.parse("2026-11-24T13:46:00.001Z"));
        assertThat(irq.high()).isTrue();
    }

    @Test
    void disablingTheInterruptCancelsTheTimer() {
        cmos(0x0b, 0x12);
        cmos(0x0b, 0x02);

        assertThat(wakeups.pending()).isEmpty();
        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:20Z"));
        assertThat(irq.levels()).isEmpty();
    }

    @Test
    void closeStopsTheTimer() {
        cmos(0x0b, 0x12);

        rtc.close();

        assertThat(wakeups.pending()).isEmpty();
    }
}
