package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * riscv64 guest programs, run in S-mode with {@code satp} = 0 (no translation) as a new hart starts. Each
 * instruction is assembled by one small RV64I encoder below with its assembly beside it. Programs end with
 * the SBI system-reset call (SRST, {@code a7} = 0x53525354, {@code a6} = 0, {@code a0} = 0: shutdown), which
 * the hypervisor reports as a power-off system event.
 */
final class Riscv64GuestCode implements GuestCode {
    /** The one-reg id of PC: KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE | index of regs.pc (0). */
    static final long REG_PC = 0x8000000000000000L | 0x0030000000000000L | (0x02L << 24);

    /** Where the kit puts the AIA: the APLIC (16 KiB) and the IMSIC pages, one per hart. */
    static final long APLIC = 0x0c00_0000L;
    static final long IMSIC = 0x2800_0000L;

    private static final int ZERO = 0, T0 = 5, T1 = 6, T2 = 7, A0 = 10, A1 = 11, A2 = 12, A6 = 16, A7 = 17, T3 = 28;

    private static int lui(int rd, int imm20) {                          // lui rd, imm20
        return imm20 << 12 | rd << 7 | 0x37;
    }

    private static int addi(int rd, int rs1, int imm12) {                // addi rd, rs1, imm12
        return (imm12 & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13;
    }

    private static int store(int funct3, int rs2, int rs1, int imm) {   // sb/sh/sw rs2, imm(rs1)
        return (imm >> 5 & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (imm & 0x1f) << 7 | 0x23;
    }

    private static int sb(int rs2, int rs1, int imm) {
        return store(0, rs2, rs1, imm);
    }

    private static int sh(int rs2, int rs1, int imm) {
        return store(1, rs2, rs1, imm);
    }

    private static int sw(int rs2, int rs1, int imm) {
        return store(2, rs2, rs1, imm);
    }

    private static int lw(int rd, int rs1, int imm) {                    // lw rd, imm(rs1)
        return (imm & 0xfff) << 20 | rs1 << 15 | 2 << 12 | rd << 7 | 0x03;
    }

    private static int lbu(int rd, int rs1, int imm) {                   // lbu rd, imm(rs1)
        return (imm & 0xfff) << 20 | rs1 << 15 | 4 << 12 | rd << 7 | 0x03;
    }

    private static int bne(int rs1, int rs2, int offset) {              // bne rs1, rs2, .+offset
        int imm = offset & 0x1fff;
        return (imm >> 12 & 1) << 31 | (imm >> 5 & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12
                | (imm >> 1 & 0xf) << 8 | (imm >> 11 & 1) << 7 | 0x63;
    }

    private static int csrrw(int rd, int csr, int rs1) {                // csrrw rd, csr, rs1
        return csr << 20 | rs1 << 15 | 1 << 12 | rd << 7 | 0x73;
    }

    private static int csrrs(int rd, int csr, int rs1) {                // csrrs rd, csr, rs1
        return csr << 20 | rs1 << 15 | 2 << 12 | rd << 7 | 0x73;
    }

    private static int srli(int rd, int rs1, int shamt) {               // srli rd, rs1, shamt
        return shamt << 20 | rs1 << 15 | 5 << 12 | rd << 7 | 0x13;
    }

    private static int beq(int rs1, int rs2, int offset) {              // beq rs1, rs2, .+offset
        return bne(rs1, rs2, offset) & ~(7 << 12);
    }

    private static final int SIE = 0x104, SISELECT = 0x150, SIREG = 0x151, STOPEI = 0x15c;
    private static final int WFI = 0x10500073;                           // wfi
    private static final int ECALL = 0x00000073;                         // ecall
    private static final int J_SELF = 0x0000006f;                        // jal x0, 0   (j .)

    private static final int[] STOP = {
        lui(A7, 0x53525),                                                // lui a7, 0x53525
        addi(A7, A7, 0x354),                                             // addi a7, a7, 0x354   a7 = SRST
        addi(A6, ZERO, 0),                                               // li a6, 0             system_reset
        addi(A0, ZERO, 0),                                               // li a0, 0             shutdown
        addi(A1, ZERO, 0),                                               // li a1, 0             no reason
        ECALL,                                                           // ecall
        J_SELF};                                                         // j .

    private static byte[] program(int... words) {
        ByteBuffer b = ByteBuffer.allocate(words.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int w : words) {
            b.putInt(w);
        }
        return b.array();
    }

    private static byte[] withStop(int... words) {
        int[] all = new int[words.length + STOP.length];
        System.arraycopy(words, 0, all, 0, words.length);
        System.arraycopy(STOP, 0, all, words.length, STOP.length);
        return program(all);
    }

    @Override
    public void start(Vcpu vcpu, long entry, boolean primary) {
        vcpu.as(Riscv64Vcpu.class).setOneReg(REG_PC, entry);
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
                lui(T0, 0x20),                                           // lui t0, 0x20          MMIO
                lui(T1, 0xb),                                            // lui t1, 0xb
                addi(T1, T1, -0x433),                                    // addi t1, t1, -0x433   t1 = 0xabcd
                sh(T1, T0, 0x10),                                        // sh t1, 0x10(t0)
                lw(T2, T0, 0x20),                                        // lw t2, 0x20(t0)
                sw(T2, T0, 0x30));                                       // sw t2, 0x30(t0)
    }

    @Override
    public byte[] readOnlyWrite() {
        return withStop(
                lui(T0, 0x30),                                           // lui t0, 0x30          ROM
                lui(T3, 0x20),                                           // lui t3, 0x20          MMIO
                lbu(T1, T0, 0),                                          // lbu t1, 0(t0)
                sb(T1, T3, 0x40),                                        // sb t1, 0x40(t3)
                addi(T2, ZERO, 0x77),                                    // li t2, 0x77
                sb(T2, T0, 4));                                          // sb t2, 4(t0)
    }

    @Override
    public byte[] dirtyTwoPages() {
        return withStop(
                lui(T0, 0x42),                                           // lui t0, 0x42          LOGGED page 2
                addi(T1, ZERO, 1),                                       // li t1, 1
                sb(T1, T0, 0),                                           // sb t1, 0(t0)
                lui(T0, 0x45),                                           // lui t0, 0x45          LOGGED page 5
                sb(T1, T0, 0));                                          // sb t1, 0(t0)
    }

    @Override
    public byte[] twoWrites() {
        return withStop(
                lui(T0, 0x20),                                           // lui t0, 0x20          MMIO
                addi(T1, ZERO, 7),                                       // li t1, 7
                sw(T1, T0, 0x50),                                        // sw t1, 0x50(t0)
                addi(T1, ZERO, 8),                                       // li t1, 8
                sw(T1, T0, 0x50));                                       // sw t1, 0x50(t0)
    }

    /**
     * Starts with SBI HSM {@code hart_start(1, CODE2, 0)}: KVM keeps every hart but 0 stopped until the
     * guest starts it, as Linux does at boot.
     */
    @Override
    public byte[] waitForFlag() {
        return withStop(
                lui(A7, 0x485),                                          // lui a7, 0x485
                addi(A7, A7, 0x34d),                                     // addi a7, a7, 0x34d    a7 = HSM
                addi(A6, ZERO, 0),                                       // li a6, 0              hart_start
                addi(A0, ZERO, 1),                                       // li a0, 1              hart 1
                lui(A1, 0x2),                                            // lui a1, 0x2
                addi(A1, A1, -0x800),                                    // addi a1, a1, -0x800   a1 = CODE2
                addi(A2, ZERO, 0),                                       // li a2, 0              opaque
                ECALL,                                                   // ecall
                lui(T0, 0x3),                                            // 0:  lui t0, 0x3       DATA
                lbu(T1, T0, 0),                                          // 4:  lbu t1, 0(t0)
                addi(T2, ZERO, 1),                                       // 8:  li t2, 1
                bne(T1, T2, -8),                                         // 12: bne t1, t2, 4
                lui(T3, 0x20),                                           //     lui t3, 0x20      MMIO
                addi(T1, ZERO, 0xa0),                                    //     li t1, 0xa0
                sb(T1, T3, 0x60));                                       //     sb t1, 0x60(t3)
    }

    @Override
    public byte[] setFlag() {
        return withStop(
                lui(T0, 0x3),                                            // lui t0, 0x3           DATA
                addi(T1, ZERO, 1),                                       // li t1, 1
                sb(T1, T0, 0),                                           // sb t1, 0(t0)
                lui(T3, 0x20),                                           // lui t3, 0x20          MMIO
                addi(T1, ZERO, 0xa1),                                    // li t1, 0xa1
                sb(T1, T3, 0x68));                                       // sb t1, 0x68(t3)
    }

    /**
     * Routes APLIC source 5 (edge, rising) as MSI to hart 0's IMSIC with interrupt identity 5, enables that
     * identity in the IMSIC (through siselect/sireg: eidelivery, eithreshold, eie0) and supervisor external
     * interrupts in sie, reports ready with a write to MMIO+0x78, then waits in WFI and claims through
     * stopei; writes the identity to MMIO+0x70.
     */
    byte[] aiaInterruptWait() {
        return withStop(
                addi(T0, ZERO, 0x70),                                    // li t0, 0x70           eidelivery
                csrrw(ZERO, SISELECT, T0),                               // csrw siselect, t0
                addi(T1, ZERO, 1),                                       // li t1, 1
                csrrw(ZERO, SIREG, T1),                                  // csrw sireg, t1
                addi(T0, ZERO, 0x72),                                    // li t0, 0x72           eithreshold
                csrrw(ZERO, SISELECT, T0),                               // csrw siselect, t0
                csrrw(ZERO, SIREG, ZERO),                                // csrw sireg, zero
                addi(T0, ZERO, 0xc0),                                    // li t0, 0xc0           eie0
                csrrw(ZERO, SISELECT, T0),                               // csrw siselect, t0
                addi(T1, ZERO, 1 << 5),                                  // li t1, 1 << 5         identity 5
                csrrw(ZERO, SIREG, T1),                                  // csrw sireg, t1
                lui(T0, 0xc000),                                         // lui t0, 0xc000        APLIC
                addi(T1, ZERO, 4),                                       // li t1, 4              edge, rising
                sw(T1, T0, 0x14),                                        // sw t1, 0x14(t0)       sourcecfg[5]
                lui(T2, 0xc003),                                         // lui t2, 0xc003
                addi(T1, ZERO, 5),                                       // li t1, 5              hart 0, EIID 5
                sw(T1, T2, 0x14),                                        // sw t1, 0x14(t2)       target[5]
                lui(T2, 0xc002),                                         // lui t2, 0xc002
                sw(T1, T2, -0x124),                                      // sw t1, -0x124(t2)     setienum = 5
                addi(T1, ZERO, 0x104),                                   // li t1, 0x104          IE | DM (MSI)
                sw(T1, T0, 0),                                           // sw t1, 0(t0)          domaincfg
                addi(T0, ZERO, 0x200),                                   // li t0, 0x200          SEIE
                csrrs(ZERO, SIE, T0),                                    // csrs sie, t0
                lui(T3, 0x20),                                           // lui t3, 0x20          MMIO
                sw(ZERO, T3, 0x78),                                      // sw zero, 0x78(t3)     ready
                WFI,                                                     // 1: wfi
                csrrw(T1, STOPEI, ZERO),                                 //    csrrw t1, stopei, zero   claim
                beq(T1, ZERO, -8),                                       //    beqz t1, 1b
                srli(T1, T1, 16),                                        //    srli t1, t1, 16      identity
                sw(T1, T3, 0x70));                                       //    sw t1, 0x70(t3)
    }

    @Override
    public byte[] spin() {
        return program(J_SELF);                                          // j .
    }
}
