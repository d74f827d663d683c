package dev.nimbus.devices.rtc;

import dev.nimbus.devices.testing.QuietLogs;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.bus.AddressSpace;
import dev.nimbus.devices.bus.Bus;
import dev.nimbus.devices.testing.ManualWakeups;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.SettableClock;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the CMOS RTC's register file: the fuzzer writes the index and data ports at 1 or 2 bytes
 * wide, reads the data port, and lets time pass (the host timers fire as it does), in any order: setting
 * the time and date to anything, holding the clock with SET, enabling interrupts, setting alarms.
 * Invariants: nothing is thrown; the battery-backed RAM (registers 0x0e-0x7f but the century) reads back
 * what was last written there; reading register C with the interrupt line high shows IRQF, and leaves
 * the line low.
 */
class CmosRtcFuzzTest {
    static final long PORT = 0x70;


    @FuzzTest(maxDuration = "30s")
    void theRtcKeepsItsRamAndInterruptLineConsistent(FuzzedDataProvider data) {
        try (QuietLogs quiet = QuietLogs.during()) {
            SettableClock clock = SettableClock.at("2026-12-03T12:00:00.5Z");
            ManualWakeups wakeups = new ManualWakeups(clock);
            RecordingIrqLine irq = new RecordingIrqLine();
            CmosRtc rtc = new CmosRtc(clock, irq, wakeups, 512L << 20, 0);
            Bus pio = new Bus(AddressSpace.PIO);
            pio.insert(PORT, 2, rtc);
            int[] ram = new int[128];
            for (int reg = 0; reg < 128; reg++) {
                ram[reg] = rtc.readRegister(reg);
            }
            int index = 0;
            for (int op = 0; op < 128 && data.remainingBytes() > 0; op++) {
                switch (data.consumeInt(0, 3)) {
                    case 0 -> { // select a register: mostly the clock's, any of 128
                        index = data.consumeBoolean() ? data.consumeInt(0, 0x0d) : data.consumeInt(0, 0x7f);
                        pio.write(PORT, 1, index | (data.consumeBoolean() ? 0x80 : 0)); // bit 7: NMI mask
                    }
                    case 1 -> {
                        int value = data.consumeInt(0, 0xff);
                        if (data.consumeBoolean()) {
                            pio.write(PORT + 1, 1, value);
                        } else { // a 16-bit write: index, then data
                            index = value & 0x7f;
                            value = data.consumeInt(0, 0xff);
                            pio.write(PORT, 2, index | value << 8);
                        }
                        ram[index] = value;
                    }
                    case 2 -> {
                        boolean highBefore = irq.high();
                        int value = (int) pio.read(PORT + 1, 1);
                        assertThat(value).as("a byte register").isBetween(0, 0xff);
                        if (index >= 0x0e && index != CmosRtc.CENTURY) {
                            assertThat(value).as("RAM register 0x%x", index).isEqualTo(ram[index]);
                        }
                        if (index == CmosRtc.REG_C) {
                            if (highBefore) {
                                assertThat(value & CmosRtc.C_IRQF).as("register C 0x%x with the line high", value).isNotZero();
                            }
                            assertThat(irq.high()).as("the line after reading register C").isFalse();
                        }
                    }
                    default -> { // time passes: a fraction of a second, a few minutes, or (more rarely) up to two days
                        clock.advance(switch (data.consumeInt(0, 7)) {
                            case 0 -> Duration.ofSeconds(data.consumeInt(0, 2 * 86_400));
                            case 1, 2, 3 -> Duration.ofSeconds(data.consumeInt(0, 300));
                            default -> Duration.ofMillis(data.consumeInt(0, 1000));
                        });
                        wakeups.advanceTo(clock.instant());
                    }
                }
                assertThat(wakeups.pending().size()).as("host timers armed").isLessThanOrEqualTo(1);
            }
            rtc.close();
        }
    }
}
