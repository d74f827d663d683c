package dev.nimbus.arch.x86_64.emulator;

/**
 * How an emulation attempt ended: the instruction was carried out and RIP advanced past it, or it was
 * refused with nothing done, no register changed and no access made.
 */
public sealed interface EmulationResult {
    /** The access was made, the destination and flags written, and RIP set to {@code nextRip}. */
    record Emulated(long nextRip) implements EmulationResult {}

    /**
     * The instruction was not emulated. {@code message} names its bytes in hex, the RIP and the reason, as
     * the internal error that ends the VM should read: {@code cannot emulate 0f 0b at rip 0x1000: ...}.
     */
    record CannotEmulate(String message) implements EmulationResult {}
}
