package dev.nimbus.arch.riscv64.layeringfixture;

import dev.nimbus.arch.aarch64.Aarch64Layout;

/** Breaks the layering on purpose (riscv64 borrowing AArch64's code), to show the rule catches it. */
public final class ArchUsingAnotherArch {
    public long ramBase() {
        return Aarch64Layout.RAM_BASE + Aarch64Layout.mpidr(1);
    }
}
