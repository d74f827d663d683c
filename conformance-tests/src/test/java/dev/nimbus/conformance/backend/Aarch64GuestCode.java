package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * AArch64 guest programs, run at EL1 with the MMU off straight after {@code init}: every access is a
 * physical one. Each instruction is assembled by one small encoder below (A64 encodings from the Arm ARM)
 * with its assembly beside it. Programs end with PSCI SYSTEM_OFF ({@code hvc #0} with x0 = 0x84000008),
 * which the hypervisor reports as a power-off system event.
 */
final class Aarch64GuestCode implements GuestCode {
    /**
     * The one-reg id of PC: KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset of regs.pc in
     * struct kvm_regs = 256) / 4.
     */
    static final long REG_PC = 0x6000000000000000L | 0x0030000000000000L | (0x0010L << 16) | (256 / 4);

    // x0..x6 register numbers
    private static final int X0 = 0, X1 = 1, X2 = 2, X3 = 3, X4 = 4, X5 = 5, X6 = 6;

    private static int movz(int rd, int imm16, int shift) {          // movz xd, #imm16, lsl #shift
        return 0xd2800000 | (shift / 16) << 21 | imm16 << 5 | rd;
    }

    private static int movk(int rd, int imm16, int shift) {          // movk xd, #imm16, lsl #shift
        return 0xf2800000 | (shift / 16) << 21 | imm16 << 5 | rd;
    }

    private static int strb(int rt, int rn, int offset) {            // strb wt, [xn, #offset]
        return 0x39000000 | offset << 10 | rn << 5 | rt;
    }

    private static int ldrb(int rt, int rn, int offset) {            // ldrb wt, [xn, #offset]
        return 0x39400000 | offset << 10 | rn << 5 | rt;
    }

    private static int strh(int rt, int rn, int offset) {            // strh wt, [xn, #offset]
        return 0x79000000 | (offset / 2) << 10 | rn << 5 | rt;
    }

    private static int str(int rt, int rn, int offset) {             // str wt, [xn, #offset]
        return 0xb9000000 | (offset / 4) << 10 | rn << 5 | rt;
    }

    private static int ldr(int rt, int rn, int offset) {             // ldr wt, [xn, #offset]
        return 0xb9400000 | (offset / 4) << 10 | rn << 5 | rt;
    }

    private static int cmp(int rn, int imm12) {                       // cmp wn, #imm12 (subs wzr, wn, #imm12)
        return 0x7100001f | imm12 << 10 | rn << 5;
    }

    private static int bne(int instructions) {                        // b.ne .+4*instructions
        return 0x54000001 | (instructions & 0x7ffff) << 5;
    }

    private static int strx(int rt, int rn, int offset) {            // str xt, [xn, #offset]
        return 0xf9000000 | (offset / 8) << 10 | rn << 5 | rt;
    }

    /** msr/mrs S3_op1_Cn_Cm_op2 (op0 = 3). */
    private static int msr(int op1, int crn, int crm, int op2, int rt) {
        return 0xd5180000 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5 | rt;
    }

    private static int mrs(int op1, int crn, int crm, int op2, int rt) {
        return 0xd5380000 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5 | rt;
    }

    private static final int XZR = 31;
    private static final int ISB = 0xd5033fdf;                        // isb
    private static final int WFI = 0xd503207f;                        // wfi
    private static final int DAIFCLR_I = 0xd50342ff;                  // msr daifclr, #2   (unmask IRQ)
    private static final int HVC_0 = 0xd4000002;                      // hvc #0
    private static final int B_SELF = 0x14000000;                     // b .

    private static byte[] program(int... words) {
        ByteBuffer b = ByteBuffer.allocate(words.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int w : words) {
            b.putInt(w);
        }
        return b.array();
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = new int[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static final int[] STOP = {
        movz(X0, 0x0008, 0),                                          // movz x0, #0x8
        movk(X0, 0x8400, 16),                                         // movk x0, #0x8400, lsl #16   PSCI SYSTEM_OFF
        HVC_0,                                                        // hvc #0
        B_SELF};                                                      // b .

    private static byte[] withStop(int... words) {
        return program(concat(words, STOP));
    }

    @Override
    public void start(Vcpu vcpu, long entry, boolean primary) {
        Aarch64Vcpu a = vcpu.as(Aarch64Vcpu.class);
        a.init(false);
        a.setOneReg(REG_PC, entry);
    }

    @Override
    public boolean isStop(VcpuExit exit) {
        return exit instanceof VcpuExit.SystemEvent e && e.kind() == VcpuExit.SystemEvent.Kind.POWER_OFF;
    }

    @Override
    public byte[] stop() {
        return program(STOP);
    }

    @Override
    public byte[] mmioRoundTrip() {
        return withStop(
                movz(X1, 0x0002, 16),                                 // movz x1, #0x2, lsl #16     MMIO
                movz(X2, 0xabcd, 0),                                  // movz x2, #0xabcd
                strh(X2, X1, 0x10),                                   // strh w2, [x1, #0x10]
                ldr(X3, X1, 0x20),                                    // ldr w3, [x1, #0x20]
                str(X3, X1, 0x30));                                   // str w3, [x1, #0x30]
    }

    @Override
    public byte[] readOnlyWrite() {
        return withStop(
                movz(X1, 0x0003, 16),                                 // movz x1, #0x3, lsl #16     ROM
                movz(X4, 0x0002, 16),                                 // movz x4, #0x2, lsl #16     MMIO
                ldrb(X2, X1, 0),                                      // ldrb w2, [x1]
                strb(X2, X4, 0x40),                                   // strb w2, [x4, #0x40]
                movz(X3, 0x77, 0),                                    // movz x3, #0x77
                strb(X3, X1, 4));                                     // strb w3, [x1, #4]
    }

    @Override
    public byte[] dirtyTwoPages() {
        return withStop(
                movz(X1, 0x0004, 16),                                 // movz x1, #0x4, lsl #16     LOGGED
                movk(X1, 0x2000, 0),                                  // movk x1, #0x2000           page 2
                movz(X2, 1, 0),                                       // movz x2, #1
                strb(X2, X1, 0),                                      // strb w2, [x1]
                movk(X1, 0x5000, 0),                                  // movk x1, #0x5000           page 5
                strb(X2, X1, 0));                                     // strb w2, [x1]
    }

    @Override
    public byte[] twoWrites() {
        return withStop(
                movz(X1, 0x0002, 16),                                 // movz x1, #0x2, lsl #16     MMIO
                movz(X2, 7, 0),                                       // movz x2, #7
                str(X2, X1, 0x50),                                    // str w2, [x1, #0x50]
                movz(X2, 8, 0),                                       // movz x2, #8
                str(X2, X1, 0x50));                                   // str w2, [x1, #0x50]
    }

    @Override
    public byte[] waitForFlag() {
        return withStop(
                movz(X1, 0x3000, 0),                                  // 0:  movz x1, #0x3000       DATA
                ldrb(X2, X1, 0),                                      // 4:  ldrb w2, [x1]
                cmp(X2, 1),                                           // 8:  cmp w2, #1
                bne(-2),                                              // 12: b.ne 4
                movz(X4, 0x0002, 16),                                 //     movz x4, #0x2, lsl #16 MMIO
                movz(X3, 0xa0, 0),                                    //     movz x3, #0xa0
                strb(X3, X4, 0x60));                                  //     strb w3, [x4, #0x60]
    }

    @Override
    public byte[] setFlag() {
        return withStop(
                movz(X1, 0x3000, 0),                                  // movz x1, #0x3000           DATA
                movz(X2, 1, 0),                                       // movz x2, #1
                strb(X2, X1, 0),                                      // strb w2, [x1]
                movz(X4, 0x0002, 16),                                 // movz x4, #0x2, lsl #16     MMIO
                movz(X3, 0xa1, 0),                                    // movz x3, #0xa1
                strb(X3, X4, 0x68));                                  // strb w3, [x4, #0x68]
    }

    /** GICv3 distributor and CPU 0's redistributor, as {@link BackendConformanceTest} creates them. */
    static final long GICD = 0x0800_0000L;
    static final long GICR = 0x080a_0000L;
    static final long ITS = 0x0808_0000L;
    /** Where {@link #gicInterruptWait()} puts VBAR_EL1; its IRQ vector (current EL, SPx) is at +0x280. */
    static final long VECTORS = 0x2000;

    /**
     * Enables SPI 5 (INTID 37) in the GICv3 distributor for CPU 0, wakes CPU 0's redistributor, enables
     * group-1 interrupts in the CPU interface, unmasks IRQs and waits in WFI.
     */
    byte[] gicInterruptWait() {
        return program(concat(GIC_SET_UP, WAIT_FOR_IRQ));
    }

    /**
     * {@link #gicInterruptWait()} with a pause between setting the GIC up and waiting: a 32-bit write of 0 to
     * MMIO+0x78, where a test takes a snapshot.
     */
    byte[] gicSetUpPauseThenWait() {
        return program(concat(concat(GIC_SET_UP, new int[] {
                movz(X4, 0x0002, 16),                                 // movz x4, #0x2, lsl #16     MMIO
                str(XZR, X4, 0x78)}),                                 // str wzr, [x4, #0x78]       pause
                WAIT_FOR_IRQ));
    }

    private static final int[] GIC_SET_UP = {
        movz(X1, 0x0800, 16),                                         // movz x1, #0x800, lsl #16   GICD
        movz(X2, 0x12, 0),                                            // movz x2, #0x12
        str(X2, X1, 0x0),                                             // str w2, [x1]               GICD_CTLR = ARE | EnableGrp1
        movz(X2, 0xffff, 0),                                          // movz x2, #0xffff
        movk(X2, 0xffff, 16),                                         // movk x2, #0xffff, lsl #16
        str(X2, X1, 0x84),                                            // str w2, [x1, #0x84]        GICD_IGROUPR1: group 1
        movz(X2, 0xa0, 0),                                            // movz x2, #0xa0
        strb(X2, X1, 0x425),                                          // strb w2, [x1, #0x425]      GICD_IPRIORITYR37
        strx(XZR, X1, 0x6128),                                        // str xzr, [x1, #0x6128]     GICD_IROUTER37 = CPU 0
        movz(X2, 0x20, 0),                                            // movz x2, #0x20             bit 37 - 32
        str(X2, X1, 0x104),                                           // str w2, [x1, #0x104]       GICD_ISENABLER1
        movz(X3, 0x080a, 16),                                         // movz x3, #0x80a, lsl #16   GICR (CPU 0)
        str(XZR, X3, 0x14),                                           // str wzr, [x3, #0x14]       GICR_WAKER: awake
        movz(X2, 0x2000, 0),                                          // movz x2, #0x2000
        msr(0, 12, 0, 0, X2),                                         // msr vbar_el1, x2
        movz(X2, 0xff, 0),                                            // movz x2, #0xff
        msr(0, 4, 6, 0, X2),                                          // msr icc_pmr_el1, x2
        movz(X2, 1, 0),                                               // movz x2, #1
        msr(0, 12, 12, 7, X2),                                        // msr icc_igrpen1_el1, x2
        ISB};                                                         // isb

    private static final int[] WAIT_FOR_IRQ = {
        DAIFCLR_I,                                                    // msr daifclr, #2
        WFI,                                                          // 1: wfi
        0x17ffffff};                                                  //    b 1b

    /**
     * Sets x5 = 0x56781234, x6 = 0x9abc and d1 (the low half of v1) = x5 (FP/SIMD enabled in CPACR_EL1 first:
     * it traps at reset), writes w5 to MMIO+0x78 (where a
     * test takes a snapshot), then writes w6 to MMIO+0x7c and stops.
     */
    byte[] registersAcrossAnExit() {
        return withStop(
                movz(X5, 0x1234, 0),                                  // movz x5, #0x1234
                movk(X5, 0x5678, 16),                                 // movk x5, #0x5678, lsl #16
                movz(X6, 0x9abc, 0),                                  // movz x6, #0x9abc
                movz(X2, 0x30, 16),                                   // movz x2, #0x30, lsl #16
                msr(0, 1, 0, 2, X2),                                  // msr cpacr_el1, x2          FPEN: FP/SIMD not trapped
                ISB,                                                  // isb
                0x9e670000 | X5 << 5 | 1,                             // fmov d1, x5
                movz(X4, 0x0002, 16),                                 // movz x4, #0x2, lsl #16     MMIO
                str(X5, X4, 0x78),                                    // str w5, [x4, #0x78]        pause
                str(X6, X4, 0x7c));                                   // str w6, [x4, #0x7c]
    }

    /**
     * The one-reg id of v{@code n}, 128 bits: KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE | (offset
     * of fp_regs.vregs[n] in struct kvm_regs) / 4, where fp_regs starts at 336 (34 + 2 + 5 u64s, aligned to 16).
     */
    static long regV(int n) {
        return 0x6000000000000000L | 0x0040000000000000L | (0x0010L << 16) | (336 + 16L * n) / 4;
    }

    /** The IRQ handler at VECTORS + 0x280: acknowledges the interrupt and writes its INTID to MMIO+0x70. */
    byte[] gicIrqHandler() {
        return withStop(
                mrs(0, 12, 12, 0, X2),                                // mrs x2, icc_iar1_el1
                movz(X4, 0x0002, 16),                                 // movz x4, #0x2, lsl #16     MMIO
                str(X2, X4, 0x70));                                   // str w2, [x4, #0x70]
    }

    @Override
    public byte[] spin() {
        return program(B_SELF);                                       // b .
    }
}
