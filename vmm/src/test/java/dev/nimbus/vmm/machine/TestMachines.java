package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.vmm.console.HostTerminal;
import dev.nimbus.vmm.devices.DeviceManager;

/** A {@link MachineBuilder} for tests, wired as the Dagger component wires it, over a scripted backend and platform. */
public final class TestMachines {
    private TestMachines() {}

    public static MachineBuilder builder(Hypervisor hypervisor, ArchPlatform platform) {
        HostTerminal terminal = new HostTerminal();
        return new MachineBuilder(hypervisor, platform, () -> new DeviceManager(terminal));
    }
}
