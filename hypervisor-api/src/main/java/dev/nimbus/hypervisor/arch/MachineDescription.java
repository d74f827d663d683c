package dev.nimbus.hypervisor.arch;

import java.util.List;

/**
 * The whole machine as the firmware tables must describe it: vCPU count, memory layout and devices.
 *
 * @param vcpus   number of vCPUs (ids 0 .. vcpus-1)
 * @param layout  the address-space layout from {@link ArchPlatform#layout(long)}
 * @param devices the platform devices present
 * @param identity what the firmware tables say the machine is (SMBIOS on x86-64)
 */
public record MachineDescription(int vcpus, MachineLayout layout, List<PlatformDevice> devices, SystemIdentity identity) {
    public MachineDescription {
        if (vcpus < 1) {
            throw new IllegalArgumentException("a machine needs at least one vCPU");
        }
        devices = List.copyOf(devices);
    }

    /** A machine that says it is a Nimbus machine ({@link SystemIdentity#NIMBUS}). */
    public MachineDescription(int vcpus, MachineLayout layout, List<PlatformDevice> devices) {
        this(vcpus, layout, devices, SystemIdentity.NIMBUS);
    }
}
