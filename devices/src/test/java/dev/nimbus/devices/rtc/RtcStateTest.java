package dev.nimbus.devices.rtc;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.testing.ManualWakeups;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.SettableClock;
import dev.nimbus.devices.time.Wakeups;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The three RTCs' saved state: a fresh clock given it shows the time the guest set, still following the host
 * clock (the time that passed between save and restore shows, as across a suspend), with its registers and
 * interrupt as they were.
 */
class RtcStateTest {
    final SettableClock clock = SettableClock.at("2026-11-24T13:45:07.250Z");
    final ManualWakeups wakeups = new ManualWakeups(clock);

    // ---- CMOS ----

    static int cmos(CmosRtc rtc, int index) {
        rtc.write(0, 1, index);
        return (int) rtc.read(1, 1);
    }

    static void cmos(CmosRtc rtc, int index, int value) {
        rtc.write(0, 1, index);
        rtc.write(1, 1, value);
    }

    /** A CMOS clock the guest set to 1999-12-31 23:59:50 in binary 24-hour mode, with a byte of NVRAM and an alarm interrupt armed. */
    private CmosRtc guestSetCmos(RecordingIrqLine irq) {
        CmosRtc rtc = new CmosRtc(clock, irq, wakeups, 512L << 20, 0);
        cmos(rtc, CmosRtc.REG_B, 0x86); // SET, binary, 24-hour
        cmos(rtc, CmosRtc.SECONDS, 50);
        cmos(rtc, CmosRtc.MINUTES, 59);
        cmos(rtc, CmosRtc.HOURS, 23);
        cmos(rtc, CmosRtc.DAY_OF_MONTH, 31);
        cmos(rtc, CmosRtc.MONTH, 12);
        cmos(rtc, CmosRtc.YEAR, 99);
        cmos(rtc, CmosRtc.CENTURY, 19);
        cmos(rtc, CmosRtc.REG_B, 0x06);
        cmos(rtc, 0x40, 0x5a);
        cmos(rtc, CmosRtc.SECONDS_ALARM, 0xff);
        cmos(rtc, CmosRtc.MINUTES_ALARM, 0xff);
        cmos(rtc, CmosRtc.HOURS_ALARM, 0xff);
        cmos(rtc, CmosRtc.REG_B, 0x26); // AIE
        return rtc;
    }

    @Test
    void aRestoredCmosClockKeepsTheGuestsTimeRunningOnTheHostClock() {
        CmosRtc saved = guestSetCmos(new RecordingIrqLine());
        DeviceState state = saved.saveState();
        clock.advance(Duration.ofSeconds(12)); // the machine was saved for 12 s
        CmosRtc fresh = new CmosRtc(clock, new RecordingIrqLine(), wakeups, 512L << 20, 0);

        fresh.restoreState(state);

        assertThat(cmos(fresh, CmosRtc.YEAR)).isEqualTo(0); // 2000-01-01 00:00:02
        assertThat(cmos(fresh, CmosRtc.CENTURY)).isEqualTo(20);
        assertThat(cmos(fresh, CmosRtc.SECONDS)).isEqualTo(2);
        assertThat(cmos(fresh, CmosRtc.REG_B)).isEqualTo(0x26);
        assertThat(cmos(fresh, 0x40)).isEqualTo(0x5a);
        assertThat(cmos(fresh, CmosRtc.SECONDS)).isEqualTo(cmos(saved, CmosRtc.SECONDS));
    }

    @Test
    void aRestoredCmosClockRaisesTheAlarmItWasArmedFor() {
        DeviceState state = guestSetCmos(new RecordingIrqLine()).saveState();
        RecordingIrqLine irq = new RecordingIrqLine();
        ManualWakeups freshWakeups = new ManualWakeups(clock);
        CmosRtc fresh = new CmosRtc(clock, irq, freshWakeups, 512L << 20, 0);

        fresh.restoreState(state);
        assertThat(freshWakeups.pending()).as("the restore armed the update timer").hasSize(1);
        freshWakeups.advanceTo(clock.instant().plusSeconds(1));

        assertThat(irq.high()).isTrue();
        assertThat(cmos(fresh, CmosRtc.REG_C) & 0xa0).isEqualTo(0xa0); // IRQF | AF
    }

    @Test
    void aCmosStateOutOfRangeOrCutShortIsRefusedAndChangesNothing() {
        DeviceState good = guestSetCmos(new RecordingIrqLine()).saveState();
        CmosRtc fresh = new CmosRtc(clock, new RecordingIrqLine(), Wakeups.NONE, 512L << 20, 0);
        int before = cmos(fresh, CmosRtc.REG_B);
        byte[] badIndex = good.data();
        badIndex[128] = (byte) 0x80;
        byte[] cut = java.util.Arrays.copyOf(good.data(), 100);

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(CmosRtc.STATE_ID, 1, badIndex)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("index");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(CmosRtc.STATE_ID, 1, cut)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("CMOS RAM");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(CmosRtc.STATE_ID, 2, good.data())))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("version 2");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState("pl031", 1, good.data())))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("pl031");
        assertThat(cmos(fresh, CmosRtc.REG_B)).isEqualTo(before);
        assertThat(cmos(fresh, 0x40)).isZero();
    }

    // ---- PL031 ----

    @Test
    void aRestoredPl031KeepsItsLoadedCounterRunningAndItsMatchInterrupt() {
        Pl031Rtc saved = new Pl031Rtc(clock, new RecordingIrqLine(), wakeups);
        saved.write(Pl031Rtc.LR, 4, 1_000_000);
        saved.write(Pl031Rtc.MR, 4, 1_000_030);
        saved.write(Pl031Rtc.IMSC, 4, 1);
        DeviceState state = saved.saveState();
        clock.advance(Duration.ofSeconds(20));
        RecordingIrqLine irq = new RecordingIrqLine();
        ManualWakeups freshWakeups = new ManualWakeups(clock);
        Pl031Rtc fresh = new Pl031Rtc(clock, irq, freshWakeups);

        fresh.restoreState(state);

        assertThat(freshWakeups.pending()).as("the restore armed the match timer").hasSize(1);
        assertThat(fresh.read(Pl031Rtc.DR, 4)).isEqualTo(1_000_020);
        assertThat(fresh.read(Pl031Rtc.MR, 4)).isEqualTo(1_000_030);
        assertThat(fresh.read(Pl031Rtc.IMSC, 4)).isEqualTo(1);
        freshWakeups.advanceTo(clock.instant().plusSeconds(10));
        assertThat(irq.high()).as("the match 10 s after the restore").isTrue();
        assertThat(fresh.read(Pl031Rtc.MIS, 4)).isEqualTo(1);
    }

    @Test
    void aPl031StateWithAFlagNotZeroOrOneIsRefused() {
        byte[] d = new Pl031Rtc(clock, new RecordingIrqLine(), wakeups).saveState().data();
        d[20] = 2; // the mask
        Pl031Rtc fresh = new Pl031Rtc(clock, new RecordingIrqLine(), wakeups);

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Pl031Rtc.STATE_ID, 1, d)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("mask");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(Pl031Rtc.STATE_ID, 1, new byte[21])))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("raw status");
    }

    // ---- Goldfish ----

    @Test
    void aRestoredGoldfishClockKeepsItsTimeAndFiresItsAlarmWhenDue() {
        GoldfishRtc saved = new GoldfishRtc(clock, new RecordingIrqLine(), wakeups);
        saved.write(GoldfishRtc.TIME_HIGH, 4, 0);
        saved.write(GoldfishRtc.TIME_LOW, 4, 4_000_000_000L); // the guest set its clock to 4 s after 1970
        long guestNow = 4_000_000_000L;
        long alarm = guestNow + 3_000_000_000L;
        saved.write(GoldfishRtc.ALARM_HIGH, 4, alarm >>> 32);
        saved.write(GoldfishRtc.ALARM_LOW, 4, alarm & 0xffff_ffffL);
        saved.write(GoldfishRtc.IRQ_ENABLED, 4, 1);
        DeviceState state = saved.saveState();
        clock.advance(Duration.ofSeconds(1));
        RecordingIrqLine irq = new RecordingIrqLine();
        ManualWakeups freshWakeups = new ManualWakeups(clock);
        GoldfishRtc fresh = new GoldfishRtc(clock, irq, freshWakeups);

        fresh.restoreState(state);

        long low = fresh.read(GoldfishRtc.TIME_LOW, 4);
        long time = fresh.read(GoldfishRtc.TIME_HIGH, 4) << 32 | low;
        assertThat(time).isEqualTo(guestNow + 1_000_000_000L);
        assertThat(fresh.read(GoldfishRtc.ALARM_STATUS, 4)).isEqualTo(1);
        assertThat(freshWakeups.pending()).hasSize(1);
        freshWakeups.advanceTo(clock.instant().plusSeconds(2));
        assertThat(irq.high()).isTrue();
    }

    @Test
    void aGoldfishStateOfTheWrongLengthIsRefused() {
        byte[] d = new GoldfishRtc(clock, new RecordingIrqLine(), wakeups).saveState().data();
        GoldfishRtc fresh = new GoldfishRtc(clock, new RecordingIrqLine(), wakeups);

        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(GoldfishRtc.STATE_ID, 1, java.util.Arrays.copyOf(d, d.length + 1))))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("after its last field");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState(GoldfishRtc.STATE_ID, 1, java.util.Arrays.copyOf(d, 10))))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("TIME_HIGH");
    }
}
