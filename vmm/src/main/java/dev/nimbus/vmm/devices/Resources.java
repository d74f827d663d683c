package dev.nimbus.vmm.devices;

import java.util.ArrayList;
import java.util.List;

/**
 * What one machine's devices hold on the host and in the hypervisor (files and their locks, taps, eventfds,
 * irqfds, workers, the terminal), each added as soon as it is had, and released together, last first. That
 * is the whole of the undo on a failed build: whatever was opened before the failure is in here.
 */
final class Resources implements AutoCloseable {
    private final List<AutoCloseable> held = new ArrayList<>();

    /** Holds {@code resource} until {@link #close()}; returns it. */
    synchronized <T extends AutoCloseable> T add(T resource) {
        held.add(resource);
        return resource;
    }

    /** Releases everything held, in the reverse order of {@link #add}; a release that fails does not stop the others. */
    @Override
    public synchronized void close() {
        for (AutoCloseable c : held.reversed()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // releasing host resources on the way out; nothing more to do
            }
        }
        held.clear();
    }
}
