package dev.nimbus.arch.riscv64.layeringfixture;

import dev.nimbus.host.LibC;

/** Breaks the layering on purpose (an arch platform making system calls itself), to show the rules catch it. */
public final class ArchUsingHost {
    public long page() {
        return LibC.pageSize();
    }
}
