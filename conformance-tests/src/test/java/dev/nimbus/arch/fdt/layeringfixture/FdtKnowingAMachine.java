package dev.nimbus.arch.fdt.layeringfixture;

import dev.nimbus.arch.aarch64.Aarch64Layout;

/** Breaks the layering on purpose (the shared FDT code knowing one machine), to show the rule catches it. */
public final class FdtKnowingAMachine {
    public long uart() {
        return Aarch64Layout.UART + Aarch64Layout.mpidr(0);
    }
}
