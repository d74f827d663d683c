package dev.nimbus.hypervisor.arch;

import dev.nimbus.hypervisor.Vcpu;

/**
 * The result of loading a kernel: everything is in guest memory, and this says how each vCPU must start.
 * Produced by {@link ArchPlatform#loadKernel}; the VMM calls {@link #setupVcpu} once per vCPU, on that
 * vCPU's thread, before its first run.
 */
public interface BootPlan {
    /** The boot protocol used, for logs ({@code linux-bzimage}, {@code pvh}, {@code arm64-image}, ...). */
    String protocol();

    /** The guest address the boot vCPU starts at. */
    long entryPoint();

    /** Puts vCPU {@code index} (0 is the boot vCPU) into its start state: registers, CPUID, MSRs, power state. */
    void setupVcpu(Vcpu vcpu, int index);
}
