package dev.nimbus.arch.riscv64.hart;

/**
 * The one-reg ids of the riscv64 registers Nimbus reads and writes (arch/riscv/include/uapi/asm/kvm.h):
 * {@code KVM_REG_RISCV | KVM_REG_SIZE_U64 | type | subtype | index}, where the index is the register's
 * offset in its struct divided by 8 ({@code kvm_riscv_config}, {@code kvm_riscv_core}, {@code kvm_riscv_csr},
 * {@code kvm_riscv_timer}), or, for the ISA extension registers, the extension's {@code KVM_RISCV_ISA_EXT_*}
 * number. The backend passes them through.
 */
public final class Registers {
    private Registers() {}

    static final long KVM_REG_RISCV = 0x8000_0000_0000_0000L;
    static final long KVM_REG_SIZE_U64 = 0x0030_0000_0000_0000L;
    static final long TYPE_MASK = 0xffL << 24;
    static final long SUBTYPE_MASK = 0xffL << 16;
    /** Register types (bits 24-31). */
    static final long CONFIG = 0x01L << 24;
    static final long CORE = 0x02L << 24;
    static final long CSR = 0x03L << 24;
    static final long TIMER = 0x04L << 24;
    static final long ISA_EXT = 0x07L << 24;
    /** {@code KVM_REG_RISCV_ISA_SINGLE}: one extension per register (the only subtype before Linux 6.6). */
    static final long ISA_SINGLE = 0;

    private static long u64(long type, long index) {
        return KVM_REG_RISCV | KVM_REG_SIZE_U64 | type | index;
    }

    /** {@code config.isa}: the single-letter extensions the hart has, bit n for letter {@code 'a' + n}. */
    public static final long CONFIG_ISA = u64(CONFIG, 0);
    /** {@code config.zicbom_block_size}: the cache block size of Zicbom's operations. */
    public static final long CONFIG_ZICBOM_BLOCK_SIZE = u64(CONFIG, 1);
    /** {@code config.zicboz_block_size} (Linux 6.5): the block size {@code cbo.zero} clears. */
    public static final long CONFIG_ZICBOZ_BLOCK_SIZE = u64(CONFIG, 5);
    /** {@code config.satp_mode} (Linux 6.4): the widest paging mode, as satp's MODE field (8 Sv39, 9 Sv48, 10 Sv57). */
    public static final long CONFIG_SATP_MODE = u64(CONFIG, 6);

    /** {@code core.regs.pc}. */
    public static final long PC = u64(CORE, 0);
    /** {@code core.mode}: the privilege mode the hart runs in ({@link #MODE_S} or 0 for U). */
    public static final long MODE = u64(CORE, 32);
    /** Supervisor mode, as {@code KVM_RISCV_MODE_S}. */
    public static final long MODE_S = 1;
    /** {@code csr.sstatus}. */
    public static final long SSTATUS = u64(CSR, 0);
    /** {@code csr.sie}: the interrupts the hart takes. */
    public static final long SIE = u64(CSR, 1);
    /** {@code csr.stvec}: the trap vector. */
    public static final long STVEC = u64(CSR, 2);
    /** {@code csr.sepc}: where the last trap was taken. */
    public static final long SEPC = u64(CSR, 4);
    /** {@code csr.scause}: why. */
    public static final long SCAUSE = u64(CSR, 5);
    /** {@code csr.stval}: the faulting address or instruction of the last trap. */
    public static final long STVAL = u64(CSR, 6);
    /** {@code csr.sip}: the interrupts pending. */
    public static final long SIP = u64(CSR, 7);
    /** {@code csr.satp}: address translation; 0 is Bare (off), as the boot protocol asks. */
    public static final long SATP = u64(CSR, 8);
    /** {@code timer.frequency}: the rate {@code time} counts at, which the guest calls the timebase. */
    public static final long TIMER_FREQUENCY = u64(TIMER, 0);

    /** {@code core.regs.x<n>}, n from 1 to 31 (x0 is always zero and has no register; index 0 is the PC). */
    public static long x(int n) {
        if (n < 1 || n > 31) {
            throw new IllegalArgumentException("x1 to x31, not x" + n);
        }
        return u64(CORE, n);
    }

    /** {@code core.regs.a<n>} (x10 + n). */
    public static long a(int n) {
        if (n < 0 || n > 7) {
            throw new IllegalArgumentException("a0 to a7, not a" + n);
        }
        return u64(CORE, 10 + n);
    }

    /** The register that says whether ISA extension {@code KVM_RISCV_ISA_EXT_<id>} is on (1) or off (0). */
    public static long isaExtension(int id) {
        if (id < 0 || id > 0xffff) {
            throw new IllegalArgumentException("ISA extension id " + id);
        }
        return u64(ISA_EXT | ISA_SINGLE, id);
    }

    /** The extension id of a register from {@link #isaExtension}, or -1 for any other register. */
    public static int isaExtensionId(long register) {
        if ((register & ~(TYPE_MASK | SUBTYPE_MASK | 0xffffL)) != (KVM_REG_RISCV | KVM_REG_SIZE_U64)
                || (register & TYPE_MASK) != ISA_EXT || (register & SUBTYPE_MASK) != ISA_SINGLE) {
            return -1;
        }
        return (int) (register & 0xffff);
    }
}
