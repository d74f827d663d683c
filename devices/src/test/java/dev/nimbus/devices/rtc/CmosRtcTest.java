package dev.nimbus.devices.rtc;

import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.testing.SettableClock;
import dev.nimbus.devices.time.Wakeups;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The CMOS RTC through its two ports: offset 0 is the index (0x70), offset 1 the data (0x71). */
class CmosRtcTest {
    // Tuesday 24 November 2026, 13:45:07.5 UTC.
    final SettableClock clock = SettableClock.at("2026-11-24T13:45:07.500Z");
    final CmosRtc rtc = new CmosRtc(clock);

    int cmos(int index) {
        rtc.write(0, 1, index);
        return (int) rtc.read(1, 1);
    }

    void cmos(int index, int value) {
        rtc.write(0, 1, index);
        rtc.write(1, 1, value);
    }

    @Test
    void cmosReadsCurrentTimeInBcd() {
        assertThat(cmos(0x00)).isEqualTo(0x07); // seconds
        assertThat(cmos(0x02)).isEqualTo(0x45); // minutes
        assertThat(cmos(0x04)).isEqualTo(0x13); // hours, 24-hour
        assertThat(cmos(0x06)).isEqualTo(0x03); // Tuesday (Sunday is 1)
        assertThat(cmos(0x07)).isEqualTo(0x24); // day of month
        assertThat(cmos(0x08)).isEqualTo(0x11); // month
        assertThat(cmos(0x09)).isEqualTo(0x26); // year
        assertThat(cmos(0x32)).isEqualTo(0x20); // century
    }

    @Test
    void cmosReadsBinaryWhenRegisterBSelectsIt() {
        cmos(0x0b, 0x06); // binary | 24-hour

        assertThat(cmos(0x00)).isEqualTo(7);
        assertThat(cmos(0x02)).isEqualTo(45);
        assertThat(cmos(0x04)).isEqualTo(13);
        assertThat(cmos(0x09)).isEqualTo(26);
        assertThat(cmos(0x32)).isEqualTo(20);
    }

    @Test
    void twelveHourModeFlagsAfternoonInBitSeven() {
        cmos(0x0b, 0x00); // BCD, 12-hour

        assertThat(cmos(0x04)).isEqualTo(0x81); // 1 PM
    }

    @Test
    void midnightIsTwelveAmInTwelveHourMode() {
        clock.set(Instant.parse("2026-11-24T00:10:00Z"));
        cmos(0x0b, 0x00);

        assertThat(cmos(0x04)).isEqualTo(0x12);
    }

    @Test
    void updateInProgressIsSetInTheLast244MicrosecondsOfASecond() {
        assertThat(cmos(0x0a)).isEqualTo(0x26);

        clock.set(Instant.parse("2026-11-24T13:45:07.999800Z"));
        assertThat(cmos(0x0a)).isEqualTo(0xa6);

        clock.set(Instant.parse("2026-11-24T13:45:07.999700Z"));
        assertThat(cmos(0x0a)).isEqualTo(0x26);
    }

    @Test
    void nmiMaskBitInTheIndexIsIgnored() {
        assertThat(cmos(0x80 | 0x02)).isEqualTo(0x45); // minutes, with "NMI disabled"
    }

    @Test
    void statusRegistersReportValidTimeAndNoPendingFlags() {
        assertThat(cmos(0x0b)).isEqualTo(0x02);
        assertThat(cmos(0x0c)).isEqualTo(0x00);
        assertThat(cmos(0x0d)).isEqualTo(0x80);
    }

    @Test
    void timeSetByTheGuestKeepsRunning() {
        cmos(0x0b, 0x82); // SET | 24-hour: hold the clock, as Linux's mc146818_set_time does
        cmos(0x09, 0x30);
        cmos(0x08, 0x01);
        cmos(0x07, 0x02);
        cmos(0x04, 0x03);
        cmos(0x02, 0x04);
        cmos(0x00, 0x05);
        cmos(0x0b, 0x02);

        clock.advance(Duration.ofSeconds(10));

        assertThat(cmos(0x09)).isEqualTo(0x30);
        assertThat(cmos(0x08)).isEqualTo(0x01);
        assertThat(cmos(0x07)).isEqualTo(0x02);
        assertThat(cmos(0x04)).isEqualTo(0x03);
        assertThat(cmos(0x02)).isEqualTo(0x04);
        assertThat(cmos(0x00)).isEqualTo(0x15);
    }

    @Test
    void clockStandsStillWhileSetHoldsIt() {
        cmos(0x0b, 0x82);
        clock.advance(Duration.ofSeconds(30));

        assertThat(cmos(0x00)).isEqualTo(0x07);
    }

    @Test
    void dateFieldsMayBeWrittenInAnyOrderWhileHeld() {
        clock.set(Instant.parse("2026-02-10T00:00:00Z"));
        cmos(0x0b, 0x82);
        cmos(0x07, 0x31); // day 31 first: not a February date, but the month follows
        cmos(0x08, 0x03);
        cmos(0x0b, 0x02);

        assertThat(cmos(0x07)).isEqualTo(0x31);
        assertThat(cmos(0x08)).isEqualTo(0x03);
    }

    @Test
    void invalidTimeFromTheGuestIsIgnored() {
        cmos(0x08, 0x13); // month 13

        assertThat(cmos(0x08)).isEqualTo(0x11);
    }

    @Test
    void otherBytesAreRam() {
        cmos(0x40, 0xa5);
        cmos(0x7f, 0x5a);

        assertThat(cmos(0x40)).isEqualTo(0xa5);
        assertThat(cmos(0x7f)).isEqualTo(0x5a);
    }

    @Test
    void memorySizeBytesDescribeRamForFirmware() {
        CmosRtc withRam = new CmosRtc(clock, IrqLine.NONE, Wakeups.NONE, 2L << 30, 2L << 30);
        withRam.write(0, 1, 0x34);
        int lo = (int) withRam.read(1, 1);
        withRam.write(0, 1, 0x35);
        int hi = (int) withRam.read(1, 1);
        int[] above = new int[3];
        for (int i = 0; i < 3; i++) {
            withRam.write(0, 1, 0x5b + i);
            above[i] = (int) withRam.read(1, 1);
        }

        assertThat(hi << 8 | lo).isEqualTo(0x7f00); // (2 GiB - 16 MiB) / 64 KiB
        assertThat(above).containsExactly(0x00, 0x80, 0x00); // 2 GiB / 64 KiB = 0x8000
    }

    @Test
    void indexPortIsWriteOnly() {
        rtc.write(0, 1, 0x00);

        assertThat(rtc.read(0, 1)).isEqualTo(0xffL);
    }
}
