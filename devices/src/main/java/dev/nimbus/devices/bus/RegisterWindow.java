package dev.nimbus.devices.bus;

import java.util.Objects;

/**
 * A view of part of a device's registers as a range of its own: offset 0 of the window is {@code offset}
 * of the device. For devices whose registers sit in separate places, such as the i8042's data port (0x60)
 * and command port (0x64), which leave the ports between them to others.
 */
public record RegisterWindow(BusDevice device, long offset) implements BusDevice {
    public RegisterWindow {
        Objects.requireNonNull(device, "device");
    }

    @Override
    public long read(long offset, int size) {
        return device.read(this.offset + offset, size);
    }

    @Override
    public void write(long offset, int size, long value) {
        device.write(this.offset + offset, size, value);
    }

    @Override
    public String name() {
        return device.name();
    }
}
