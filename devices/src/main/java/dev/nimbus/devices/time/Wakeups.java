package dev.nimbus.devices.time;

import java.time.Instant;

/**
 * Host timers for devices that do something at a time of their own (the RTC's once-a-second update
 * interrupt). A task runs once, on a thread of the implementation's choosing, at or soon after its time;
 * the device synchronizes itself.
 */
public interface Wakeups {
    /** Runs {@code task} once at {@code when} (on the clock the device was given); returns its cancel handle. */
    Cancellable at(Instant when, Runnable task);

    /** A scheduled task that has not run yet can be called off. */
    interface Cancellable {
        void cancel();
    }

    /** Never runs anything: for devices whose timed events are not wanted. */
    Wakeups NONE = (when, task) -> () -> {};
}
