package dev.nimbus.vmm.devices;

import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * A machine's buses as the device manager fills them: each device's ranges go on behind a
 * {@link CountingDevice}, one pair of counters per device (its ranges share them), named as the device
 * names itself ({@code "serial 16550A"}, a second one {@code "serial 16550A 2"}).
 */
final class CountedBuses {
    private final Buses buses = new Buses();
    private final Map<String, LongAdder[]> accesses = new LinkedHashMap<>();

    Buses buses() {
        return buses;
    }

    /** Puts one device's ranges on the buses, counted. */
    void insert(List<BusMapping> mappings) {
        if (mappings.isEmpty()) {
            return;
        }
        String base = mappings.getFirst().device().name();
        String name = base;
        for (int n = 2; accesses.containsKey(name); n++) {
            name = base + " " + n;
        }
        LongAdder[] counts = {new LongAdder(), new LongAdder()};
        accesses.put(name, counts);
        for (BusMapping m : mappings) {
            buses.insert(new BusMapping(m.space(), m.base(), m.length(), new CountingDevice(m.device(), counts[0], counts[1])));
        }
    }

    /** Each device's register reads and writes so far, in the order the devices were inserted. */
    Map<String, Map<String, Long>> counters() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        accesses.forEach((name, c) -> out.put(name, Map.of("reads", c[0].sum(), "writes", c[1].sum())));
        return out;
    }
}
