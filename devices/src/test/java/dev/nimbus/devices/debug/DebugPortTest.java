package dev.nimbus.devices.debug;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class DebugPortTest {
    final AtomicLong now = new AtomicLong(5_000_000_000L);
    final DebugPort port = new DebugPort(now::get, 5_000_000_000L);

    @Test
    void bootProgressCodesAreRecordedWithTimeSinceStart() {
        now.addAndGet(120_000_000L);
        port.write(0, 1, 0x40);
        now.addAndGet(880_000_000L);
        port.write(0, 1, 0x41);

        assertThat(port.records()).containsExactly(
                new DebugPort.BootProgress(0x40, 120_000_000L),
                new DebugPort.BootProgress(0x41, 1_000_000_000L));
        assertThat(port.records().get(0).meaning()).isEqualTo("kernel start");
        assertThat(port.records().get(1)).hasToString("userspace start at 1.000000 s");
    }

    @Test
    void ioDelayWritesOfZeroAreCountedNotRecorded() {
        port.write(0, 1, 0x00);
        port.write(0, 1, 0x00);

        assertThat(port.records()).isEmpty();
        assertThat(port.writes()).isEqualTo(2);
    }

    @Test
    void recordsStopAtTheLimit() {
        for (int i = 0; i < DebugPort.MAX_RECORDS + 10; i++) {
            port.write(0, 1, 0x42);
        }

        assertThat(port.records()).hasSize(DebugPort.MAX_RECORDS);
        assertThat(port.writes()).isEqualTo(DebugPort.MAX_RECORDS + 10);
    }

    @Test
    void readsReturnZero() {
        assertThat(port.read(0, 1)).isZero();
    }
}
