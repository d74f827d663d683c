package dev.nimbus.arch.x86_64.emulator;

/**
 * The code-segment mode an instruction was fetched in, which decides how its bytes decode: the default
 * operand and address sizes, whether {@code 40}-{@code 4f} are REX prefixes or {@code inc}/{@code dec}, and
 * whether ModRM {@code mod=00 rm=101} is RIP-relative or an absolute {@code disp32}.
 */
public enum CpuMode {
    /** 64-bit mode (EFER.LMA and CS.L): operands 32 bits by default, addresses 64, REX, RIP-relative. */
    LONG_64(4, 8),
    /** A 32-bit code segment (CS.D set), in protected mode or long mode's compatibility mode. */
    PROTECTED_32(4, 4),
    /** A 16-bit code segment (CS.D clear): real mode, virtual-8086 mode or 16-bit protected mode. */
    PROTECTED_16(2, 2);

    private final int operandSize;
    private final int addressSize;

    CpuMode(int operandSize, int addressSize) {
        this.operandSize = operandSize;
        this.addressSize = addressSize;
    }

    /** The mode a vCPU is in, from its code segment's L and D bits and whether long mode is active (EFER.LMA). */
    public static CpuMode of(boolean longModeActive, boolean csL, boolean csD) {
        if (longModeActive && csL) {
            return LONG_64;
        }
        return csD ? PROTECTED_32 : PROTECTED_16;
    }

    /** The operand size in bytes without a {@code 66} prefix or REX.W. */
    int defaultOperandSize() {
        return operandSize;
    }

    /** The address size in bytes without a {@code 67} prefix. */
    int defaultAddressSize() {
        return addressSize;
    }

    /** The address size a {@code 67} prefix selects: 32 bits in 64-bit mode, the other of 16 and 32 elsewhere. */
    int overriddenAddressSize() {
        return this == LONG_64 ? 4 : 6 - addressSize;
    }
}
