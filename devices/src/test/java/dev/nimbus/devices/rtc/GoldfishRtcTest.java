package dev.nimbus.devices.rtc;

import dev.nimbus.devices.testing.ManualWakeups;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.SettableClock;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Goldfish RTC registers (32-bit): TIME_LOW 0x00, TIME_HIGH 0x04, ALARM_LOW 0x08, ALARM_HIGH 0x0C,
 * IRQ_ENABLED 0x10, CLEAR_ALARM 0x14, ALARM_STATUS 0x18, CLEAR_INTERRUPT 0x1C.
 */
class GoldfishRtcTest {
    static final long NOW_NANOS = 1_795_527_907_250_000_000L; // 2026-11-24T13:45:07.25Z

    final SettableClock clock = SettableClock.at("2026-11-24T13:45:07.250Z");
    final ManualWakeups wakeups = new ManualWakeups(clock);
    final RecordingIrqLine irq = new RecordingIrqLine();
    final GoldfishRtc rtc = new GoldfishRtc(clock, irq, wakeups);

    long reg(int offset) {
        return rtc.read(offset, 4);
    }

    void reg(int offset, long value) {
        rtc.write(offset, 4, value & 0xffff_ffffL);
    }

    /** rtc-goldfish's read_time: TIME_LOW first (latching the high half), then TIME_HIGH. */
    long time() {
        long low = reg(0x00);
        long high = reg(0x04);
        return high << 32 | low;
    }

    @Test
    void timeReadsNanosecondsSince1970() {
        assertThat(time()).isEqualTo(NOW_NANOS);
    }

    @Test
    void readingTheLowHalfLatchesTheHighHalf() {
        long low = reg(0x00);
        clock.set(Instant.parse("2100-01-01T00:00:00Z")); // the high half moves on

        assertThat(reg(0x04) << 32 | low).isEqualTo(NOW_NANOS);
    }

    @Test
    void settingTheTimeKeepsItRunning() {
        long set = 1_000_000_000_000_000_000L;
        reg(0x04, set >>> 32);
        reg(0x00, set);
        clock.advance(java.time.Duration.ofMillis(1500));

        assertThat(time()).isEqualTo(set + 1_500_000_000L);
    }

    @Test
    void alarmRaisesTheInterruptWhenDueAndDisarms() {
        long alarm = NOW_NANOS + 2_000_000_000L;
        reg(0x10, 1);
        reg(0x0c, alarm >>> 32);
        reg(0x08, alarm);
        assertThat(reg(0x18)).isEqualTo(1);

        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:09.250Z"));

        assertThat(irq.high()).isTrue();
        assertThat(reg(0x18)).isZero();
        reg(0x1c, 1);
        assertThat(irq.high()).isFalse();
    }

    @Test
    void clearedAlarmDoesNotFire() {
        long alarm = NOW_NANOS + 2_000_000_000L;
        reg(0x10, 1);
        reg(0x0c, alarm >>> 32);
        reg(0x08, alarm);

        reg(0x14, 1);

        assertThat(wakeups.pending()).isEmpty();
        wakeups.advanceTo(Instant.parse("2026-11-24T13:46:00Z"));
        assertThat(irq.levels()).isEmpty();
    }

    @Test
    void alarmInThePastFiresAtOnce() {
        reg(0x10, 1);
        reg(0x0c, NOW_NANOS >>> 32);
        reg(0x08, NOW_NANOS - 1);

        assertThat(irq.high()).isTrue();
    }
}
