package dev.nimbus.devices.bus;

/** A device was inserted where another already is. The message names both devices and both ranges. */
public final class BusConflictException extends RuntimeException {
    public BusConflictException(String message) {
        super(message);
    }
}
