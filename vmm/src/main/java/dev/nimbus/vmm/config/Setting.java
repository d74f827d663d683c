package dev.nimbus.vmm.config;

/**
 * A setting that both front ends accept, under the name each gives it: the command line's option and key
 * ({@code --cpus boot}) and the REST API's VmConfig field ({@code cpus.boot_vcpus}). A check that both share
 * throws {@link ConfigException#ConfigException(Setting, String)}, and each front end shows the name its
 * user wrote.
 */
public enum Setting {
    CPUS_BOOT("--cpus boot", "cpus.boot_vcpus"),
    CPUS_MAX("--cpus max", "cpus.max_vcpus"),
    MEMORY_SIZE("--memory size", "memory.size"),
    KERNEL("--kernel", "payload.kernel"),
    INITRAMFS("--initramfs", "payload.initramfs"),
    CMDLINE("--cmdline", "payload.cmdline");

    private final String option;
    private final String field;

    Setting(String option, String field) {
        this.option = option;
        this.field = field;
    }

    /** The command line's name: {@code --cpus boot}. */
    public String option() {
        return option;
    }

    /** The REST API's VmConfig path: {@code cpus.boot_vcpus}. */
    public String field() {
        return field;
    }
}
