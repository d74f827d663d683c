package dev.nimbus.arch.aarch64.layeringfixture;

import dev.nimbus.kvm.KvmHypervisor;

/** Breaks the layering on purpose (an arch platform naming a backend), to show the rule catches it. */
public final class ArchUsingBackend {
    public String backend() {
        return new KvmHypervisor().name();
    }
}
