package dev.nimbus.api;

/**
 * No hypervisor that can run the VM here (no {@code /dev/kvm}, no permission on it, or the backend asked for
 * is not in this build); the message says which and why. {@link MicroVm#hypervisorStatus(String)} asks the
 * same question without starting anything.
 */
public final class HypervisorUnavailableException extends NimbusException {
    private static final long serialVersionUID = 1L;

    HypervisorUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * 1, as the command line exits when the hypervisor cannot be used.
     *
     * @return the exit code
     */
    @Override
    public int exitCode() {
        return 1;
    }
}
