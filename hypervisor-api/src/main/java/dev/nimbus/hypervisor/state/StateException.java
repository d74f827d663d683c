package dev.nimbus.hypervisor.state;

/**
 * Saved state that cannot be restored here: a record missing, of an unknown version, malformed, or asking
 * for what this host lacks (a CPUID feature, a register the hypervisor does not have). The message names
 * the record and the difference.
 */
public final class StateException extends RuntimeException {
    public StateException(String message) {
        super(message);
    }

    public StateException(String message, Throwable cause) {
        super(message, cause);
    }
}
