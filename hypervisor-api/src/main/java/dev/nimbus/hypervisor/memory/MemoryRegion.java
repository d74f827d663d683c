package dev.nimbus.hypervisor.memory;

import java.util.Objects;

/**
 * A guest memory slot as the hypervisor sees it: a {@link GuestRegion} given a slot number and flags.
 * Registered with {@code Vm.setMemoryRegion}.
 *
 * @param slot      the slot number; unique within a VM
 * @param region    the guest address range and its host mapping
 * @param readOnly  guest writes do not reach the memory but exit as MMIO writes
 * @param logDirty  the hypervisor records which pages the guest writes ({@code Vm.dirtyLog})
 */
public record MemoryRegion(int slot, GuestRegion region, boolean readOnly, boolean logDirty) {
    public MemoryRegion {
        Objects.requireNonNull(region, "region");
        if (slot < 0) {
            throw new IllegalArgumentException("negative memory slot " + slot);
        }
    }

    public static MemoryRegion ram(int slot, GuestRegion region) {
        return new MemoryRegion(slot, region, false, false);
    }
}
