package dev.nimbus.devices.time;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * {@link Wakeups} on one daemon thread of the host, against a {@link Clock}. {@link #shared()} is the one a
 * VMM process uses for all its devices; its thread never keeps the JVM alive.
 */
public final class HostWakeups implements Wakeups, AutoCloseable {
    private static final class Shared {
        static final HostWakeups INSTANCE = new HostWakeups(Clock.systemUTC());
    }

    private final Clock clock;
    private final ScheduledThreadPoolExecutor executor;

    public HostWakeups(Clock clock) {
        this.clock = clock;
        this.executor = new ScheduledThreadPoolExecutor(1, r -> Thread.ofPlatform().name("device-wakeups").daemon().unstarted(r));
        executor.setRemoveOnCancelPolicy(true);
    }

    /** The process-wide instance, on the host's UTC clock. */
    public static HostWakeups shared() {
        return Shared.INSTANCE;
    }

    @Override
    public Cancellable at(Instant when, Runnable task) {
        long delayNanos = Math.max(0, Duration.between(clock.instant(), when).toNanos());
        ScheduledFuture<?> f = executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
        return () -> f.cancel(false);
    }

    /** Stops the thread; tasks not yet run are dropped. */
    @Override
    public void close() {
        executor.shutdownNow();
    }
}
