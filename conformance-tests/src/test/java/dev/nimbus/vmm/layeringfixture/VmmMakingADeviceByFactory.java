package dev.nimbus.vmm.layeringfixture;

import dev.nimbus.devices.debug.DebugPort;

/** Breaks the device-manager rule on purpose: a VMM class outside the device manager that gets a device from a static factory. */
public final class VmmMakingADeviceByFactory {
    public DebugPort port() {
        return DebugPort.startingNow();
    }
}
