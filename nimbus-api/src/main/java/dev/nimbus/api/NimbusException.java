package dev.nimbus.api;

/**
 * What went wrong with an embedded VM, with the message the {@code nimbus} command line prints for the same
 * failure (without its {@code nimbus: } prefix). One subclass per kind of failure; {@link #exitCode()} is the
 * exit code the command line would give.
 */
public abstract sealed class NimbusException extends RuntimeException
        permits InvalidConfigException, HypervisorUnavailableException, VmStateException, VmFailedException,
        ConsoleTimeoutException {
    private static final long serialVersionUID = 1L;

    NimbusException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * The {@code nimbus} command's exit code for this failure.
     *
     * @return 2 for bad input, 1 for anything else
     */
    public abstract int exitCode();
}
