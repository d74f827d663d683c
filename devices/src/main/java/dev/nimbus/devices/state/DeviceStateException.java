package dev.nimbus.devices.state;

/** A saved device state that a device cannot take: another device's, an unknown version, or malformed data. */
public final class DeviceStateException extends RuntimeException {
    public DeviceStateException(String message) {
        super(message);
    }
}
