package dev.nimbus.arch.riscv64.hart;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;

/** A riscv64 hart's registers as text, for the message that ends a VM on a fatal exit. */
public final class RegisterDump {
    private RegisterDump() {}

    private static final String[] ABI_NAMES = {"zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
        "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
        "t3", "t4", "t5", "t6"};

    /** PC, mode, the supervisor trap CSRs, satp and x1-x31 by their ABI names; never throws. */
    public static String describe(Vcpu vcpu) {
        try {
            Riscv64Vcpu hart = vcpu.as(Riscv64Vcpu.class);
            StringBuilder s = new StringBuilder();
            s.append(String.format("vCPU %d: pc=%016x mode=%s satp=%016x sstatus=%016x%n", vcpu.id(),
                    hart.getOneReg(Registers.PC), hart.getOneReg(Registers.MODE) == Registers.MODE_S ? "S" : "U",
                    hart.getOneReg(Registers.SATP), hart.getOneReg(Registers.SSTATUS)));
            s.append(String.format("  stvec=%016x sepc=%016x scause=%016x stval=%016x%n  sie=%016x sip=%016x%n",
                    hart.getOneReg(Registers.STVEC), hart.getOneReg(Registers.SEPC), hart.getOneReg(Registers.SCAUSE),
                    hart.getOneReg(Registers.STVAL), hart.getOneReg(Registers.SIE), hart.getOneReg(Registers.SIP)));
            for (int n = 1; n <= 31; n++) {
                s.append(String.format("  %-4s=%016x", ABI_NAMES[n], hart.getOneReg(Registers.x(n))));
                if (n % 4 == 0 || n == 31) {
                    s.append(System.lineSeparator());
                }
            }
            return s.toString().stripTrailing();
        } catch (RuntimeException e) {
            return "vCPU " + vcpu.id() + ": registers unreadable (" + e.getMessage() + ")";
        }
    }
}
