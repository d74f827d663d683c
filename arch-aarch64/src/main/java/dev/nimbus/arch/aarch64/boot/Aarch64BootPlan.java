package dev.nimbus.arch.aarch64.boot;

import dev.nimbus.arch.aarch64.Aarch64Layout;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;
import dev.nimbus.hypervisor.arch.BootPlan;

/**
 * How the vCPUs of an arm64 Image boot start (booting.rst, "Call the kernel image"): the boot vCPU at the
 * image's first byte in EL1h with D, A, I and F masked, x0 = the device tree's address and x1-x3 = 0; the
 * others powered off until the kernel starts them with PSCI {@code CPU_ON}, which KVM handles.
 *
 * @param entryPoint where the boot vCPU starts (the image's load address)
 * @param fdtAddress the device tree blob's guest address
 */
public record Aarch64BootPlan(long entryPoint, long fdtAddress) implements BootPlan {
    @Override
    public String protocol() {
        return "arm64-image";
    }

    @Override
    public void setupVcpu(Vcpu vcpu, int index) {
        Aarch64Vcpu cpu = vcpu.as(Aarch64Vcpu.class);
        cpu.init(index != 0);
        long mpidr = cpu.getOneReg(Registers.MPIDR_EL1) & Registers.MPIDR_AFFINITY_MASK;
        if (mpidr != Aarch64Layout.mpidr(index)) {
            throw new IllegalStateException(String.format(
                    "vCPU %d has MPIDR_EL1 affinity 0x%x, but the device tree says 0x%x", index, mpidr, Aarch64Layout.mpidr(index)));
        }
        if (index != 0) {
            return; // PSCI CPU_ON sets its entry point and context id
        }
        cpu.setOneReg(Registers.PSTATE, Registers.PSTATE_EL1H_DAIF_MASKED);
        cpu.setOneReg(Registers.x(0), fdtAddress);
        for (int n = 1; n <= 3; n++) {
            cpu.setOneReg(Registers.x(n), 0);
        }
        cpu.setOneReg(Registers.PC, entryPoint);
    }
}
