package dev.nimbus.devices.rtc;

import dev.nimbus.devices.testing.ManualWakeups;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.SettableClock;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** PL031 registers (32-bit): DR 0x00, MR 0x04, LR 0x08, CR 0x0C, IMSC 0x10, RIS 0x14, MIS 0x18, ICR 0x1C. */
class Pl031RtcTest {
    // 2026-11-24T13:45:07Z is 1795527907 seconds since 1970.
    final SettableClock clock = SettableClock.at("2026-11-24T13:45:07.250Z");
    final ManualWakeups wakeups = new ManualWakeups(clock);
    final RecordingIrqLine irq = new RecordingIrqLine();
    final Pl031Rtc rtc = new Pl031Rtc(clock, irq, wakeups);

    long reg(int offset) {
        return rtc.read(offset, 4);
    }

    void reg(int offset, long value) {
        rtc.write(offset, 4, value);
    }

    @Test
    void dataRegisterCountsSecondsSince1970() {
        assertThat(reg(0x00)).isEqualTo(1_795_527_907L);
        assertThat(reg(0x0c)).isEqualTo(1); // started
    }

    @Test
    void primeCellIdsLetLinuxBindTheDriver() {
        long periphId = 0;
        long cellId = 0;
        for (int i = 0; i < 4; i++) {
            periphId |= (reg(0xfe0 + 4 * i) & 0xff) << (8 * i);
            cellId |= (reg(0xff0 + 4 * i) & 0xff) << (8 * i);
        }

        assertThat(periphId).isEqualTo(0x0004_1031L);
        assertThat(cellId).isEqualTo(0xb105_f00dL);
    }

    @Test
    void loadRegisterSetsTheCounterWhichKeepsRunning() {
        reg(0x08, 1_000_000_000L);
        clock.advance(java.time.Duration.ofSeconds(5));

        assertThat(reg(0x00)).isEqualTo(1_000_000_005L);
    }

    @Test
    void matchRaisesTheInterruptWhenUnmaskedAndIcrClearsIt() {
        reg(0x04, 1_795_527_910L); // three seconds ahead
        reg(0x10, 1);              // unmask
        assertThat(wakeups.pending()).containsExactly(Instant.parse("2026-11-24T13:45:10Z"));

        wakeups.advanceTo(Instant.parse("2026-11-24T13:45:10.001Z"));

        assertThat(irq.high()).isTrue();
        assertThat(reg(0x14)).isEqualTo(1);
        assertThat(reg(0x18)).isEqualTo(1);
        reg(0x1c, 1);
        assertThat(irq.high()).isFalse();
        assertThat(reg(0x14)).isZero();
    }

    @Test
    void maskedMatchSetsOnlyTheRawStatus() {
        reg(0x04, 1_795_527_908L);
        clock.set(Instant.parse("2026-11-24T13:45:09Z"));

        assertThat(reg(0x14)).isEqualTo(1);
        assertThat(reg(0x18)).isZero();
        assertThat(irq.levels()).isEmpty();
    }

    @Test
    void loadingPastTheMatchValueIsNotAMatch() {
        reg(0x04, 1_795_527_908L);
        reg(0x10, 1);

        reg(0x08, 1_795_527_990L);

        assertThat(reg(0x14)).isZero();
        assertThat(irq.high()).isFalse();
    }

    @Test
    void narrowReadGetsBytesOfItsRegister() {
        // Only the low `size` bytes of an answer count (the bus masks them).
        assertThat(rtc.read(0xfe1, 1) & 0xff).isEqualTo(0x00L); // bytes above PeriphID0's low byte are 0
        assertThat(rtc.read(0x01, 1) & 0xff).isEqualTo((1_795_527_907L >>> 8) & 0xff);
    }
}
