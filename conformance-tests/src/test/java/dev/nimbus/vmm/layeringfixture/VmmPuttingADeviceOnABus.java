package dev.nimbus.vmm.layeringfixture;

import dev.nimbus.devices.bus.AddressSpace;
import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;

/** Breaks the device-manager rule on purpose: a VMM class outside the device manager that puts a device on a bus. */
public final class VmmPuttingADeviceOnABus {
    public void plug(Buses buses, BusDevice device) {
        buses.insert(new BusMapping(AddressSpace.PIO, 0x3f8, 8, device));
    }
}
