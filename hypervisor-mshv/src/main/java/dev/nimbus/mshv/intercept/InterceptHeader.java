package dev.nimbus.mshv.intercept;

import static dev.nimbus.mshv.abi.HvStructs.*;

/**
 * {@code hv_x64_intercept_message_header}: the VP, the intercepted instruction's length, the access, the
 * execution state word (CPL, CR0.PE, EFER.LMA...), CS, RIP (of the intercepted instruction) and RFLAGS.
 */
public record InterceptHeader(int vpIndex, int instructionLength, AccessType access, int executionState, Segment cs,
                              long rip, long rflags) {
    public int cpl() {
        return executionState & EXECUTION_STATE_CPL_MASK;
    }

    /** CR0.PE. */
    public boolean protectedMode() {
        return (executionState >>> EXECUTION_STATE_CR0_PE_BIT & 1) != 0;
    }

    /** EFER.LMA: long mode active (64-bit code when {@link Segment#longMode()} of CS too). */
    public boolean longModeActive() {
        return (executionState >>> EXECUTION_STATE_EFER_LMA_BIT & 1) != 0;
    }

    /** Where the guest continues once the VMM has completed the instruction. */
    public long nextRip() {
        return rip + instructionLength;
    }
}
