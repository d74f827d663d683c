package dev.nimbus.vmm.config;

/**
 * {@code --cpus boot=N,max=M,max_phys_bits=B} ({@code cpus} in VmConfig JSON): the vCPUs the guest starts with
 * and may grow to, and the most physical address bits its CPUs report (Cloud Hypervisor's default 46).
 */
public record CpusConfig(int boot, int max, int maxPhysBits) {
    /** Cloud Hypervisor's default. */
    public static final CpusConfig DEFAULT = new CpusConfig(1, 1);

    /** {@code boot} and {@code max} vCPUs with the default address bits. */
    public CpusConfig(int boot, int max) {
        this(boot, max, dev.nimbus.hypervisor.arch.MachineDescription.DEFAULT_MAX_PHYS_BITS);
    }

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
        return new CpusConfig(boot, max, v.integer(Schema.CPUS_MAX_PHYS_BITS));
    }
}
