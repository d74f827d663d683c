package dev.nimbus.vmm.control;

/**
 * A control request that cannot be carried out. The kind says whose fault it is, so each front end turns
 * it into its own answer once: the REST API into a status code, the command line into an exit code.
 */
public final class ControlException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why a request failed. */
    public enum Kind {
        /** The request or its configuration is wrong (HTTP 400, exit code 2). */
        BAD_REQUEST,
        /** There is no VM to act on (HTTP 404). */
        NO_VM,
        /** The VM is not in a state that allows the request (HTTP 405). */
        WRONG_STATE,
        /** The hypervisor or the VMM failed (HTTP 500, exit code 1). */
        INTERNAL
    }

    private final Kind kind;

    public ControlException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public ControlException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
