package dev.nimbus.devices.layeringfixture;

import dev.nimbus.hypervisor.Arch;

/** Breaks the no-architecture-branches rule on purpose: a device that behaves differently on AArch64. */
public final class DeviceBranchingOnArch {
    public int registerWidth() {
        return Arch.host() == Arch.AARCH64 ? 4 : 1;
    }
}
