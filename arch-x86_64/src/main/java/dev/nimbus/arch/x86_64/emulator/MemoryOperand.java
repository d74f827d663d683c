package dev.nimbus.arch.x86_64.emulator;

/**
 * A decoded memory operand: {@code base + index * scale + displacement}, wrapped to the address size.
 * {@code base} and {@code index} are register numbers as in {@link Registers}, {@link #NONE} when absent,
 * and {@code base} is {@link #RIP} for RIP-relative addressing, which counts from the next instruction.
 *
 * <p>The emulator does not need the address: the intercept names the guest physical address the access
 * went to. It is decoded because the instruction's length depends on it, and kept for the string
 * instructions and the checks that will want the guest virtual address.
 */
record MemoryOperand(int base, int index, int scale, long displacement) {
    static final int NONE = -1;
    static final int RIP = 16;

    /** The effective address (before segmentation) for these registers and the address size in bytes. */
    long effectiveAddress(dev.nimbus.hypervisor.x86.InstructionEmulator.Registers registers, long nextRip, int addressSize) {
        long address = displacement;
        if (base == RIP) {
            address += nextRip;
        } else if (base != NONE) {
            address += registers.gpr(base);
        }
        if (index != NONE) {
            address += registers.gpr(index) * scale;
        }
        return addressSize == 8 ? address : address & ((1L << (addressSize * 8)) - 1);
    }
}
