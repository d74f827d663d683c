package dev.nimbus.vmm.devices;

import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.VirtioWorker;

import java.util.Map;

/** One virtio function of a machine: its name in {@code vm.counters} ({@code _disk0}, {@code _rng}...), the transport and its worker. */
public record VirtioFunction(String id, VirtioPciDevice device, VirtioWorker worker) {
    /** What the device has moved ({@code read_bytes}, {@code rx_frames}...). */
    public Map<String, Long> counters() {
        return device.counters();
    }
}
