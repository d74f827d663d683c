package dev.nimbus.devices.time;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

class HostWakeupsTest {
    @Test
    void dueTaskRunsOnTheWakeupThread() throws InterruptedException {
        try (HostWakeups wakeups = new HostWakeups(Clock.systemUTC())) {
            CountDownLatch ran = new CountDownLatch(1);
            String[] thread = new String[1];

            wakeups.at(Instant.now().minusSeconds(1), () -> {
                thread[0] = Thread.currentThread().getName();
                ran.countDown();
            });

            assertThat(ran.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(thread[0]).isEqualTo("device-wakeups");
        }
    }

    @Test
    void cancelledTaskDoesNotRun() throws InterruptedException {
        try (HostWakeups wakeups = new HostWakeups(Clock.systemUTC())) {
            AtomicBoolean ran = new AtomicBoolean();
            CountDownLatch later = new CountDownLatch(1);

            wakeups.at(Instant.now().plusMillis(200), () -> ran.set(true)).cancel();
            wakeups.at(Instant.now().plusMillis(400), later::countDown);

            assertThat(later.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(ran).isFalse();
        }
    }
}
