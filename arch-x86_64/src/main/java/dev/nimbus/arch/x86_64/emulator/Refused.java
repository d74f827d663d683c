package dev.nimbus.arch.x86_64.emulator;

/**
 * Why an instruction is not emulated, and how many of its bytes were looked at, so that the message can
 * name them. Thrown inside the package only and turned into {@link EmulationResult.CannotEmulate} by
 * {@link MmioEmulator}; it carries no stack trace, as it is an answer, not a failure of this code.
 */
final class Refused extends Exception {
    private final int bytesSeen;

    Refused(String reason, int bytesSeen) {
        super(reason, null, false, false);
        this.bytesSeen = bytesSeen;
    }

    /** How many leading bytes of the instruction the refusal is about. */
    int bytesSeen() {
        return bytesSeen;
    }
}
