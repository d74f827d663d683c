package dev.nimbus.vmm.config;

/**
 * A command-line option or API value is wrong. The message names the option, the key and what was
 * expected ({@code --memory size: expected a size such as 512M or 2G, got 'lots'}); the command line turns
 * it into exit code 2, the REST API into 400.
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
