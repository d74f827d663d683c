package dev.nimbus.hypervisor.x86;

/**
 * Carries out the instruction that made an MMIO access, for a backend whose hypervisor stops at the access
 * instead of completing it (Microsoft Hypervisor's memory intercept gives the guest physical address, the
 * registers and up to 16 instruction bytes; KVM emulates in the kernel and needs none of this).
 *
 * <p>The x86-64 arch platform supplies it ({@code ArchPlatform.vmOptions()}); the VMM hands it to the backend
 * in {@link dev.nimbus.hypervisor.VmOptions}, so a backend reaches instruction decoding through the SPI and
 * never depends on an arch module. The backend implements the two views: {@link Registers} over the
 * registers its intercept carried, {@link Memory} over its bus (and, for the string instructions, the guest's
 * address translation).
 *
 * <p>Contract: {@link Outcome.Emulated} means the accesses were made, destination registers and RFLAGS
 * written and RIP set to {@code nextRip} (which equals the old RIP when a REP instruction stopped part way
 * and the guest must execute it again); {@link Outcome.CannotEmulate} means nothing was accessed and no
 * register changed, and its message names the bytes, as the internal error that ends the VM should read.
 */
public interface InstructionEmulator {
    /**
     * Emulates the instruction in the first {@code count} of {@code instruction}, fetched at the current RIP in
     * {@code mode}, whose memory access went to {@code gpa}.
     */
    Outcome emulate(byte[] instruction, int count, CodeMode mode, Registers registers, long gpa, Memory memory);

    /** The code segment's mode, which decides how the bytes decode. */
    enum CodeMode {
        /** 64-bit mode (EFER.LMA and CS.L). */
        LONG_64,
        /** A 32-bit code segment (CS.D set). */
        PROTECTED_32,
        /** A 16-bit code segment (CS.D clear): real mode, virtual-8086 mode or 16-bit protected mode. */
        PROTECTED_16;

        /** The mode a vCPU is in, from whether long mode is active (EFER.LMA) and its code segment's L and D bits. */
        public static CodeMode of(boolean longModeActive, boolean csL, boolean csD) {
            if (longModeActive && csL) {
                return LONG_64;
            }
            return csD ? PROTECTED_32 : PROTECTED_16;
        }
    }

    /**
     * The registers the emulator reads and changes: the sixteen general-purpose registers in the instruction
     * encoding's order (RAX 0, RCX 1, RDX 2, RBX 3, RSP 4, RBP 5, RSI 6, RDI 7, R8-R15), RIP and RFLAGS, always
     * whole 64-bit values (the emulator merges 8- and 16-bit results itself).
     */
    interface Registers {
        long gpr(int index);

        void setGpr(int index, long value);

        long rip();

        void setRip(long value);

        long rflags();

        void setRflags(long value);
    }

    /**
     * Guest physical memory as the instruction reaches it: an access of {@code size} bytes (1, 2, 4 or 8), as a
     * little-endian number zero above {@code size}; RAM or a device, as the address falls. What it throws
     * passes through the emulator unchanged.
     */
    interface Memory {
        /** Segment registers in their encoding order, as {@link #translate} names them. */
        int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

        long read(long gpa, int size);

        void write(long gpa, int size, long value);

        /**
         * The guest physical address of {@code size} bytes at {@code offset} in segment {@code segment} (ES..GS),
         * for a write or a read, or -1 when it cannot be translated here. Only the string instructions
         * ({@code movs}, {@code stos}) ask: their other operand, and the later iterations of a REP, are not the
         * intercept's address. A -1 stops a REP before that iteration (the guest executes the rest again); on
         * the first iteration it refuses the instruction.
         */
        default long translate(int segment, long offset, int size, boolean write) {
            return -1;
        }
    }

    /** How an emulation attempt ended. */
    sealed interface Outcome {
        /** Done; RIP is now {@code nextRip}. */
        record Emulated(long nextRip) implements Outcome {}

        /** Not done, nothing changed; {@code message} names the bytes, the RIP and why. */
        record CannotEmulate(String message) implements Outcome {}
    }
}
