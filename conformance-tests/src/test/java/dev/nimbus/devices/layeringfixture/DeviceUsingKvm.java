package dev.nimbus.devices.layeringfixture;

import dev.nimbus.kvm.KvmHypervisor;

/** Breaks the layering on purpose (a device reaching for the KVM backend), to show the rule catches it. */
public final class DeviceUsingKvm {
    public String backend() {
        return new KvmHypervisor().name();
    }
}
