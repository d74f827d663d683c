package dev.nimbus.devices.testing;

import dev.nimbus.devices.pci.MsiRouting;
import dev.nimbus.hypervisor.MsiMessage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** An MSI routing that remembers each vector's message and every signal, for tests. */
public final class RecordingMsiRouting implements MsiRouting {
    private final Map<Integer, MsiMessage> routes = new HashMap<>();
    private final List<Integer> signals = new ArrayList<>();

    @Override
    public synchronized void configure(int vector, MsiMessage message) {
        routes.put(vector, message);
    }

    @Override
    public synchronized void signal(int vector) {
        if (!routes.containsKey(vector)) {
            throw new AssertionError("vector " + vector + " signalled before it was configured");
        }
        signals.add(vector);
    }

    /** The message last configured for {@code vector}, or null. */
    public synchronized MsiMessage route(int vector) {
        return routes.get(vector);
    }

    /** Vectors signalled, in order. */
    public synchronized List<Integer> signals() {
        return List.copyOf(signals);
    }

    public synchronized long count(int vector) {
        return signals.stream().filter(v -> v == vector).count();
    }
}
