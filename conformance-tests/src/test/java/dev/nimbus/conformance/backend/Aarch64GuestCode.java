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

    // x0..x4 register numbers
    private static final int X0 = 0, X1 = 1, X2 = 2, X3 = 3, X4 = 4;

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

    @Override
    public byte[] spin() {
        return program(B_SELF);                                       // b .
    }
}
