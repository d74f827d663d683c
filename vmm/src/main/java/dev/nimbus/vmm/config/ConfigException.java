package dev.nimbus.vmm.config;

/**
 * A command-line option or API value is wrong. The message names the option, the key and what was
 * expected ({@code --memory size: expected a size such as 512M or 2G, got 'lots'}); the command line turns
 * it into exit code 2, the REST API into 400.
 *
 * <p>The schema's checks name a field as its user wrote it (they know the front end). A check made later,
 * against the host, names its {@link Field}: {@link #getMessage()} then names it as the command line does,
 * {@link #apiMessage()} as the REST API's VmConfig does ({@code cpus.boot_vcpus: 300 is more than...}).
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String field;
    private final String problem;

    public ConfigException(String message) {
        super(message);
        this.field = null;
        this.problem = message;
    }

    /**
     * A value both front ends check, named per front end: {@code option} as the command line names it
     * ({@code --disk queue_size}), {@code field} as the REST API's VmConfig does ({@code disks[0].queue_size}).
     */
    public ConfigException(String option, String field, String problem) {
        super(option + ": " + problem);
        this.field = field;
        this.problem = problem;
    }

    /**
     * {@code field}'s value is wrong, found after the configuration was read (against the host, say): named as
     * the command line names it and, for {@link #apiMessage}, as VmConfig JSON does ({@code index}: which entry
     * of a list section, 0 otherwise). {@code problem} says how, without naming the field.
     */
    public ConfigException(Field<?> field, int index, String problem) {
        this(field.option(), field.jsonPath(index), problem);
    }

    /** The message with the setting named as in the REST API's JSON. */
    public String apiMessage() {
        return field == null ? getMessage() : field + ": " + problem;
    }
}
