package dev.nimbus.kvm.layeringfixture;

import dev.nimbus.mshv.MshvHypervisor;

/** Breaks the layering on purpose (one backend using another), to show the rule catches it. */
public final class KvmUsingMshv {
    public String other() {
        return new MshvHypervisor().name();
    }
}
