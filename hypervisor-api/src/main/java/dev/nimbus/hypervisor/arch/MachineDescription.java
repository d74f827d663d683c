package dev.nimbus.hypervisor.arch;

import java.util.List;

/**
 * The whole machine as the firmware tables must describe it: vCPU count, memory layout and devices.
 *
 * @param vcpus   number of vCPUs (ids 0 .. vcpus-1)
 * @param layout  the address-space layout from {@link ArchPlatform#layout(long)}
 * @param devices the platform devices present
 * @param identity what the firmware tables say the machine is (SMBIOS on x86-64)
 * @param maxPhysBits at most this many guest physical address bits are reported to the guest (CPUID on
 *                    x86-64), however many the host has
 */
public record MachineDescription(int vcpus, MachineLayout layout, List<PlatformDevice> devices, SystemIdentity identity,
                                 int maxPhysBits) {
    /** Cloud Hypervisor's default for {@code max_phys_bits}. */
    public static final int DEFAULT_MAX_PHYS_BITS = 46;

    public MachineDescription {
        if (vcpus < 1) {
            throw new IllegalArgumentException("a machine needs at least one vCPU");
        }
        if (maxPhysBits < 1 || maxPhysBits > 64) {
            throw new IllegalArgumentException("physical address bits: " + maxPhysBits);
        }
        devices = List.copyOf(devices);
    }

    /** A machine that says it is a Nimbus machine ({@link SystemIdentity#NIMBUS}), with the default address bits. */
    public MachineDescription(int vcpus, MachineLayout layout, List<PlatformDevice> devices) {
        this(vcpus, layout, devices, SystemIdentity.NIMBUS, DEFAULT_MAX_PHYS_BITS);
    }
}
