package dev.nimbus.vmm.config;

import java.util.Optional;

/**
 * A command-line option or API value is wrong. The message names the option, the key and what was
 * expected ({@code --memory size: expected a size such as 512M or 2G, got 'lots'}); the command line turns
 * it into exit code 2, the REST API into 400.
 *
 * <p>A check that serves both front ends names its {@link Setting}: {@link #getMessage()} then names it as
 * the command line does, {@link #apiMessage()} as the REST API's VmConfig does
 * ({@code cpus.boot_vcpus: 0 is out of range (1 to 255)}).
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient Setting setting;
    private final String field;
    private final String problem;

    public ConfigException(String message) {
        super(message);
        this.setting = null;
        this.field = null;
        this.problem = message;
    }

    /**
     * A value both front ends check, named per front end: {@code option} as the command line names it
     * ({@code --disk queue_size}), {@code field} as the REST API's VmConfig does ({@code disks[0].queue_size}).
     */
    public ConfigException(String option, String field, String problem) {
        super(option + ": " + problem);
        this.setting = null;
        this.field = field;
        this.problem = problem;
    }

    /** {@code setting}'s value is wrong; {@code problem} says how, without naming the setting. */
    public ConfigException(Setting setting, String problem) {
        super(setting.option() + ": " + problem);
        this.setting = setting;
        this.field = setting.field();
        this.problem = problem;
    }

    /** The setting the message is about, when the check is shared by both front ends. */
    public Optional<Setting> setting() {
        return Optional.ofNullable(setting);
    }

    /** The message with the setting named as in the REST API's JSON. */
    public String apiMessage() {
        return field == null ? getMessage() : field + ": " + problem;
    }
}
