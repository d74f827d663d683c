package dev.nimbus.vmm.config;

/** {@code --cpus boot=N,max=M} ({@code cpus} in VmConfig JSON): the vCPUs the guest starts with and may grow to. */
public record CpusConfig(int boot, int max) {
    /** Cloud Hypervisor's default. */
    public static final CpusConfig DEFAULT = new CpusConfig(1, 1);

    /** One {@code --cpus} value. */
    public static CpusConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.CPUS, text));
    }

    /** The section's values from either front end, with the checks across its fields. */
    public static CpusConfig from(Values v) throws ConfigException {
        int boot = v.integer(Schema.CPUS_BOOT);
        int max = v.given(Schema.CPUS_MAX) ? v.integer(Schema.CPUS_MAX) : boot;
        if (max < boot) {
            throw v.wrong(Schema.CPUS_MAX, max + " is less than the " + boot + " boot vCPUs");
        }
        if (max > boot) {
            throw v.wrong(Schema.CPUS_MAX, "CPU hot-plug (more vCPUs than the boot ones) is not supported yet");
        }
        return new CpusConfig(boot, max);
    }
}
