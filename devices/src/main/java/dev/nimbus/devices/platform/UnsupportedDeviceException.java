package dev.nimbus.devices.platform;

import dev.nimbus.hypervisor.arch.PlatformDevice;

/** A machine model asked for a platform device that Nimbus has no model of yet. Names the device. */
public final class UnsupportedDeviceException extends RuntimeException {
    private final transient PlatformDevice device;

    public UnsupportedDeviceException(PlatformDevice device, String what) {
        super(what + " is not supported yet (asked for " + device + ")");
        this.device = device;
    }

    /** The device that was asked for. */
    public PlatformDevice device() {
        return device;
    }
}
