package dev.nimbus.kvm.abi;

import java.lang.foreign.StructLayout;
import java.util.List;

import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.member;
import static dev.nimbus.host.CLayouts.struct;

/**
 * The riscv64 structs of {@code <asm/kvm.h>} (arch/riscv/include/uapi/asm/kvm.h). None is passed whole to
 * the kernel: they define the register indices of one-reg access (index = byte offset / 8).
 */
public final class Riscv64KvmStructs {
    private Riscv64KvmStructs() {}

    public static final StructLayout KVM_RISCV_CONFIG = struct("kvm_riscv_config",
            field("isa", U64), field("zicbom_block_size", U64));

    public static final StructLayout USER_REGS_STRUCT = struct("user_regs_struct",
            field("pc", U64), field("ra", U64), field("sp", U64), field("gp", U64), field("tp", U64),
            field("t0", U64), field("t1", U64), field("t2", U64), field("s0", U64), field("s1", U64),
            field("a0", U64), field("a1", U64), field("a2", U64), field("a3", U64), field("a4", U64),
            field("a5", U64), field("a6", U64), field("a7", U64), field("s2", U64), field("s3", U64),
            field("s4", U64), field("s5", U64), field("s6", U64), field("s7", U64), field("s8", U64),
            field("s9", U64), field("s10", U64), field("s11", U64), field("t3", U64), field("t4", U64),
            field("t5", U64), field("t6", U64));

    public static final StructLayout KVM_RISCV_CORE = struct("kvm_riscv_core",
            member("regs", USER_REGS_STRUCT), field("mode", U64));

    public static final StructLayout KVM_RISCV_CSR = struct("kvm_riscv_csr",
            field("sstatus", U64), field("sie", U64), field("stvec", U64), field("sscratch", U64),
            field("sepc", U64), field("scause", U64), field("stval", U64), field("sip", U64),
            field("satp", U64), field("scounteren", U64));

    public static final StructLayout KVM_RISCV_TIMER = struct("kvm_riscv_timer",
            field("frequency", U64), field("time", U64), field("compare", U64), field("state", U64));

    public static final List<StructLayout> ALL = List.of(KVM_RISCV_CONFIG, USER_REGS_STRUCT, KVM_RISCV_CORE,
            KVM_RISCV_CSR, KVM_RISCV_TIMER);
}
