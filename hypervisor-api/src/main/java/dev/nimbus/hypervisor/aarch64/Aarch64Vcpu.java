package dev.nimbus.hypervisor.aarch64;

import dev.nimbus.hypervisor.OneRegAccess;
import dev.nimbus.hypervisor.Vcpu;

/**
 * An AArch64 vCPU: initialized once as the host's preferred CPU target with PSCI 0.2+, then programmed
 * through one-reg access (core registers, system registers, timer) by {@code arch-aarch64}.
 */
public interface Aarch64Vcpu extends Vcpu, OneRegAccess {
    /**
     * Initializes the vCPU ({@code KVM_ARM_VCPU_INIT} on KVM) with PSCI 0.2 and, when {@code poweredOff},
     * in the powered-off state a secondary CPU waits in until PSCI {@code CPU_ON}. Once, before the first run.
     */
    void init(boolean poweredOff);
}
