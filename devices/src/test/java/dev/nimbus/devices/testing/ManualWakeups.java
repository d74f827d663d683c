package dev.nimbus.devices.testing;

import dev.nimbus.devices.time.Wakeups;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Wakeups that run only when a test says so, against a {@link SettableClock}. */
public final class ManualWakeups implements Wakeups {
    private record Task(Instant when, Runnable task, boolean[] cancelled) {}

    private final SettableClock clock;
    private final List<Task> tasks = new ArrayList<>();

    public ManualWakeups(SettableClock clock) {
        this.clock = clock;
    }

    @Override
    public synchronized Cancellable at(Instant when, Runnable task) {
        boolean[] cancelled = {false};
        tasks.add(new Task(when, task, cancelled));
        return () -> cancelled[0] = true;
    }

    /** Tasks scheduled and neither run nor cancelled. */
    public synchronized List<Instant> pending() {
        return tasks.stream().filter(t -> !t.cancelled()[0]).map(Task::when).toList();
    }

    /** Moves the clock to {@code instant} and runs every task due by then, in time order. */
    public void advanceTo(Instant instant) {
        while (true) {
            Task next;
            synchronized (this) {
                tasks.removeIf(t -> t.cancelled()[0]);
                next = tasks.stream().filter(t -> !t.when().isAfter(instant))
                        .min((a, b) -> a.when().compareTo(b.when())).orElse(null);
                if (next == null) {
                    break;
                }
                tasks.remove(next);
            }
            if (clock.instant().isBefore(next.when())) {
                clock.set(next.when());
            }
            next.task().run();
        }
        clock.set(instant);
    }
}
