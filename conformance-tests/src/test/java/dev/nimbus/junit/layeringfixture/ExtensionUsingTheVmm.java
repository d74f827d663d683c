package dev.nimbus.junit.layeringfixture;

import dev.nimbus.vmm.control.VmState;

/** Breaks the layering on purpose (the JUnit extension reaching past the public API into the VMM), to show the rule catches it. */
public final class ExtensionUsingTheVmm {
    public String state() {
        return VmState.RUNNING.apiName();
    }
}
