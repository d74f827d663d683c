package dev.nimbus.devices.bus;

import java.util.Objects;

/**
 * One range a device answers: {@code length} bytes from {@code base} in {@code space}. A device with
 * registers in two separate places (the i8042 at ports 0x60 and 0x64) has two mappings.
 */
public record BusMapping(AddressSpace space, long base, long length, BusDevice device) {
    public BusMapping {
        Objects.requireNonNull(space, "space");
        Objects.requireNonNull(device, "device");
        if (length <= 0) {
            throw new IllegalArgumentException(device.name() + ": a bus range needs a positive length, got " + length);
        }
        if (base < 0 || base > space.limit() - length) {
            throw new IllegalArgumentException(device.name() + ": " + space.describe(base) + " + 0x" + Long.toHexString(length)
                    + " does not fit in the " + space + " space");
        }
    }

    /** One past the last address. */
    public long end() {
        return base + length;
    }
}
