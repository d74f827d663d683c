package dev.nimbus.api;

/**
 * The request does not fit the VM's state: pausing a VM that is not running, starting one twice, using one
 * that was closed. The message says the state the VM is in, as the REST API's 405 answer does.
 */
public final class VmStateException extends NimbusException {
    private static final long serialVersionUID = 1L;

    VmStateException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * 1.
     *
     * @return the exit code
     */
    @Override
    public int exitCode() {
        return 1;
    }
}
