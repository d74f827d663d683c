package dev.nimbus.api;

/**
 * The hypervisor or the VMM failed while carrying out a request (building the machine, pausing its vCPUs),
 * with the command line's message.
 */
public final class VmFailedException extends NimbusException {
    private static final long serialVersionUID = 1L;

    VmFailedException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * 1, as the command line exits when the VM fails.
     *
     * @return the exit code
     */
    @Override
    public int exitCode() {
        return 1;
    }
}
