package dev.nimbus.arch.aarch64.boot;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;

/** An AArch64 vCPU's registers as text, for the message that ends a VM on a fatal exit. */
public final class RegisterDump {
    private RegisterDump() {}

    /** PC, PSTATE, SP_EL0, SP_EL1, ELR/ESR/FAR_EL1, SCTLR_EL1 and x0-x30; never throws. */
    public static String describe(Vcpu vcpu) {
        try {
            Aarch64Vcpu cpu = vcpu.as(Aarch64Vcpu.class);
            StringBuilder s = new StringBuilder();
            s.append(String.format("vCPU %d: pc=%016x pstate=%08x sp_el0=%016x sp_el1=%016x%n", vcpu.id(),
                    cpu.getOneReg(Registers.PC), cpu.getOneReg(Registers.PSTATE), cpu.getOneReg(Registers.SP), cpu.getOneReg(Registers.SP_EL1)));
            s.append(String.format("  elr_el1=%016x esr_el1=%08x far_el1=%016x sctlr_el1=%08x%n",
                    cpu.getOneReg(Registers.ELR_EL1), cpu.getOneReg(Registers.ESR_EL1), cpu.getOneReg(Registers.FAR_EL1),
                    cpu.getOneReg(Registers.SCTLR_EL1)));
            for (int n = 0; n <= 30; n++) {
                s.append(String.format("  x%-2d=%016x", n, cpu.getOneReg(Registers.x(n))));
                if (n % 4 == 3 || n == 30) {
                    s.append(System.lineSeparator());
                }
            }
            return s.toString().stripTrailing();
        } catch (RuntimeException e) {
            return "vCPU " + vcpu.id() + ": registers unreadable (" + e.getMessage() + ")";
        }
    }
}
