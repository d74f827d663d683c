package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.x86.X86Vcpu;

/**
 * How the vCPUs of an x86-64 machine start once a kernel is loaded.
 *
 * @param mode       the boot protocol
 * @param entryPoint where the boot vCPU starts
 * @param bootInfo   the zero page (64-bit Linux boot: RSI) or the {@code hvm_start_info} (PVH: EBX)
 * @param vcpus      how many vCPUs the machine has (the CPUID topology)
 * @param maxPhysBits the most physical address bits CPUID reports
 */
public record X86BootPlan(Mode mode, long entryPoint, long bootInfo, int vcpus, int maxPhysBits) implements BootPlan {
    /** A plan whose CPUID reports Cloud Hypervisor's default address bits at most. */
    public X86BootPlan(Mode mode, long entryPoint, long bootInfo, int vcpus) {
        this(mode, entryPoint, bootInfo, vcpus, dev.nimbus.hypervisor.arch.MachineDescription.DEFAULT_MAX_PHYS_BITS);
    }

    /** The two ways Nimbus enters a Linux kernel. */
    public enum Mode {
        /** A bzImage entered at its 64-bit entry point in long mode, RSI = zero page. */
        LINUX_64("linux-bzimage"),
        /** An ELF vmlinux entered at its PVH entry point in 32-bit protected mode, EBX = start info. */
        PVH("pvh");

        private final String protocol;

        Mode(String protocol) {
            this.protocol = protocol;
        }
    }

    @Override
    public String protocol() {
        return mode.protocol;
    }

    /** See {@link VcpuSetup#setup}. */
    @Override
    public void setupVcpu(Vcpu vcpu, int index) {
        VcpuSetup.setup(vcpu.as(X86Vcpu.class), index, this);
    }
}
