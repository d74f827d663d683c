package dev.nimbus.api;

/**
 * The configuration is wrong, or the kernel or initramfs cannot be loaded: the message names the field
 * ({@code --disk path: ...}, {@code --kernel: ...}) as the command line does. Nothing was started.
 */
public final class InvalidConfigException extends NimbusException {
    private static final long serialVersionUID = 1L;

    InvalidConfigException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * 2, as the command line exits on bad input.
     *
     * @return the exit code
     */
    @Override
    public int exitCode() {
        return 2;
    }
}
