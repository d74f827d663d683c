package dev.nimbus.devices.platform;

import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.hypervisor.arch.PlatformDevice;

import java.util.List;
import java.util.Objects;

/**
 * A device made from a {@link PlatformDevice} description: the device object (for the VMM's own use, such
 * as feeding host input to a UART or printing the debug port's records) and the bus ranges it answers.
 */
public record CreatedDevice(PlatformDevice spec, Object device, List<BusMapping> mappings) {
    public CreatedDevice {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(device, "device");
        mappings = List.copyOf(mappings);
    }

    /** The device as a {@code type}, or an exception naming what it is. */
    public <T> T device(Class<T> type) {
        if (!type.isInstance(device)) {
            throw new ClassCastException(spec + " was made as a " + device.getClass().getSimpleName() + ", not a " + type.getSimpleName());
        }
        return type.cast(device);
    }

    /** Whether the device is a {@code type}. */
    public boolean is(Class<?> type) {
        return type.isInstance(device);
    }

    /**
     * Releases what the device holds on the host (the RTC's timer), for when the machine is torn down; a
     * no-op for devices that hold nothing.
     */
    public void close() {
        if (device instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("closing " + spec + " failed", e);
            }
        }
    }

    /** Puts the device's ranges on {@code buses}. */
    public void attachTo(Buses buses) {
        buses.insertAll(mappings);
    }
}
