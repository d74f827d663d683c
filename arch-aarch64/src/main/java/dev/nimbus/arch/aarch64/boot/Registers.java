package dev.nimbus.arch.aarch64.boot;

/**
 * One-reg ids of the AArch64 registers Nimbus sets and reads, as {@code <linux/kvm.h>} and
 * {@code <asm/kvm.h>} encode them: core registers by their 32-bit word offset in {@code struct kvm_regs},
 * system registers by op0, op1, CRn, CRm, op2. Tests compare them with gcc's evaluation of the headers.
 */
public final class Registers {
    private Registers() {}

    static final long KVM_REG_ARM64 = 0x6000_0000_0000_0000L;
    static final long KVM_REG_SIZE_U64 = 0x0030_0000_0000_0000L;
    static final long KVM_REG_ARM_CORE = 0x0010L << 16;
    static final long KVM_REG_ARM64_SYSREG = 0x0013L << 16;

    /** A 64-bit core register at byte {@code offset} of {@code struct kvm_regs}. */
    static long core(int offset) {
        return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / 4);
    }

    /** A system register by its encoding. */
    public static long sysreg(int op0, int op1, int crn, int crm, int op2) {
        return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG
                | ((long) op0 << 14) | ((long) op1 << 11) | ((long) crn << 7) | ((long) crm << 3) | op2;
    }

    /** General-purpose register x{@code n} (n = 0..30): {@code regs.regs[n]}. */
    public static long x(int n) {
        if (n < 0 || n > 30) {
            throw new IllegalArgumentException("x" + n + " is not a general-purpose register");
        }
        return core(8 * n);
    }

    /** {@code regs.sp}: SP_EL0. */
    public static final long SP = core(8 * 31);
    /** {@code regs.pc}. */
    public static final long PC = core(8 * 32);
    /** {@code regs.pstate}. */
    public static final long PSTATE = core(8 * 33);
    /** {@code sp_el1}. */
    public static final long SP_EL1 = core(8 * 34);
    /** {@code elr_el1}. */
    public static final long ELR_EL1 = core(8 * 35);
    /** MPIDR_EL1: the vCPU's affinity. */
    public static final long MPIDR_EL1 = sysreg(3, 0, 0, 0, 5);
    /** ESR_EL1: the syndrome of the last exception taken to EL1. */
    public static final long ESR_EL1 = sysreg(3, 0, 5, 2, 0);
    /** FAR_EL1: the faulting address of the last abort taken to EL1. */
    public static final long FAR_EL1 = sysreg(3, 0, 6, 0, 0);
    /** SCTLR_EL1: bit 0 says whether the MMU is on. */
    public static final long SCTLR_EL1 = sysreg(3, 0, 1, 0, 0);

    /** PSTATE at kernel entry: EL1 with SP_EL1 (EL1h), debug, SError, IRQ and FIQ masked. */
    public static final long PSTATE_EL1H_DAIF_MASKED = 0x3c5;
    /** MPIDR_EL1's affinity fields Aff0-Aff2 (Aff3 is bits 32-39; Nimbus machines leave it 0). */
    public static final long MPIDR_AFFINITY_MASK = 0xff_ffffL | (0xffL << 32);
}
