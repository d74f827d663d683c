package dev.nimbus.vmm.devices;

import dev.nimbus.devices.bus.BusDevice;

import java.util.concurrent.atomic.LongAdder;

/**
 * A bus device seen through a pair of counters: the guest's reads and writes of its registers, which the
 * control plane reports as the device's {@code vm.counters}. Counting is a {@link LongAdder} increment on
 * the exit path, so vCPU threads do not contend on one cache line.
 */
final class CountingDevice implements BusDevice {
    private final BusDevice device;
    private final LongAdder reads;
    private final LongAdder writes;

    CountingDevice(BusDevice device, LongAdder reads, LongAdder writes) {
        this.device = device;
        this.reads = reads;
        this.writes = writes;
    }

    @Override
    public long read(long offset, int size) {
        reads.increment();
        return device.read(offset, size);
    }

    @Override
    public void write(long offset, int size, long value) {
        writes.increment();
        device.write(offset, size, value);
    }

    @Override
    public String name() {
        return device.name();
    }
}
