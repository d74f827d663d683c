package dev.nimbus.hypervisor.arch;

import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.List;

/**
 * Where things are in a machine's guest physical address space, as an architecture platform lays it out
 * for a given amount of RAM.
 *
 * @param ram         the RAM ranges, lowest first (x86-64 splits RAM around the 32-bit device hole)
 * @param mmio32      the window below 4 GiB for 32-bit PCI BARs and platform devices
 * @param mmio64      the window above RAM for 64-bit PCI BARs
 * @param pciEcam     the PCI configuration space (ECAM) window
 * @param reserved    ranges the guest must not use as RAM (firmware tables, boot structures, devices)
 */
public record MachineLayout(List<AddressRange> ram, AddressRange mmio32, AddressRange mmio64,
                            AddressRange pciEcam, List<AddressRange> reserved) {
    public MachineLayout {
        ram = List.copyOf(ram);
        reserved = List.copyOf(reserved);
        if (ram.isEmpty()) {
            throw new IllegalArgumentException("a machine needs RAM");
        }
    }

    /** Total bytes of RAM. */
    public long ramSize() {
        return ram.stream().mapToLong(AddressRange::size).sum();
    }
}
