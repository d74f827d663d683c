package dev.nimbus.arch.x86_64;

import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.memory.GuestMemory;

/** Machines of the x86-64 platform for tests, and guest memory for them (anonymous mappings, no VM needed). */
public final class Machines {
    private Machines() {}

    public static final X86_64Platform PLATFORM = new X86_64Platform();

    public static MachineDescription machine(long ramBytes, int vcpus) {
        var layout = PLATFORM.layout(ramBytes);
        return new MachineDescription(vcpus, layout, PLATFORM.platformDevices(layout));
    }

    public static GuestMemory memory(MachineDescription machine) {
        return GuestMemory.allocate(machine.layout().ram());
    }
}
