package dev.nimbus.kvm.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.List;

import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.U8;
import static dev.nimbus.host.CLayouts.array;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.member;
import static dev.nimbus.host.CLayouts.offset;
import static dev.nimbus.host.CLayouts.struct;

/**
 * The AArch64 structs of {@code <asm/kvm.h>} (arch/arm64/include/uapi/asm/kvm.h), with the offsets the code
 * uses below each (see {@link KvmStructs} for the convention). {@code kvm_regs} is not passed to the kernel
 * (AArch64 has no KVM_GET_REGS) but defines the core register ids of one-reg access.
 */
public final class Arm64KvmStructs {
    private Arm64KvmStructs() {}

    /** Words in {@code kvm_vcpu_init.features}. */
    public static final int VCPU_INIT_FEATURE_WORDS = 7;

    public static final StructLayout KVM_VCPU_INIT = struct("kvm_vcpu_init", field("target", U32),
            array("features", U32, VCPU_INIT_FEATURE_WORDS));
    public static final long VCPU_INIT_TARGET = offset(KVM_VCPU_INIT, "target");
    public static final long VCPU_INIT_FEATURES = offset(KVM_VCPU_INIT, "features");

    private static final MemoryLayout U128 = MemoryLayout.sequenceLayout(16, U8).withByteAlignment(16);

    public static final StructLayout USER_PT_REGS = struct("user_pt_regs",
            array("regs", U64, 31), field("sp", U64), field("pc", U64), field("pstate", U64));

    public static final StructLayout USER_FPSIMD_STATE = struct("user_fpsimd_state",
            array("vregs", U128, 32), field("fpsr", U32), field("fpcr", U32), array("__reserved", U32, 2));

    public static final StructLayout KVM_REGS = struct("kvm_regs",
            member("regs", USER_PT_REGS), field("sp_el1", U64), field("elr_el1", U64), array("spsr", U64, 5),
            member("fp_regs", USER_FPSIMD_STATE));

    /** Byte offset of the program counter in {@code kvm_regs} (one-reg core ids count 32-bit words of it). */
    public static final long REGS_PC = offset(KVM_REGS, "regs", "pc");
    public static final long REGS_PSTATE = offset(KVM_REGS, "regs", "pstate");
    public static final long REGS_X0 = offset(KVM_REGS, "regs", "regs");

    public static final List<StructLayout> ALL = List.of(KVM_VCPU_INIT, USER_PT_REGS, USER_FPSIMD_STATE, KVM_REGS);
}
