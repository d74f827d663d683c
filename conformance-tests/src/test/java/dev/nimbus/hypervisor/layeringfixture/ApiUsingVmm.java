package dev.nimbus.hypervisor.layeringfixture;

import dev.nimbus.vmm.Version;

/** Breaks the layering on purpose (the SPI depending on the VMM), to show the rules catch it. */
public final class ApiUsingVmm {
    public String version() {
        return Version.get();
    }
}
