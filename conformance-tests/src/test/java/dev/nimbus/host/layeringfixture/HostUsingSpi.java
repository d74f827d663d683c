package dev.nimbus.host.layeringfixture;

import dev.nimbus.hypervisor.Arch;

/** Breaks the layering on purpose (the host layer depending on the SPI above it), to show the rules catch it. */
public final class HostUsingSpi {
    public String arch() {
        return Arch.host().id();
    }
}
