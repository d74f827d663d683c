package dev.nimbus.vmm.config;

import java.util.Set;

/** {@code --cpus boot=N,max=M}: the vCPUs the guest starts with and may grow to. */
public record CpusConfig(int boot, int max) {
    static final Set<String> KEYS = Set.of("boot", "max");
    static final Set<String> UNSUPPORTED = Set.of("topology", "kvm_hyperv", "max_phys_bits", "affinity", "features", "nested");
    /** Cloud Hypervisor's default. */
    public static final CpusConfig DEFAULT = new CpusConfig(1, 1);

    public static CpusConfig parse(String text) throws ConfigException {
        OptionList o = OptionList.parse("--cpus", text, KEYS, UNSUPPORTED, Set.of());
        int boot = (int) o.integer("boot", 1, 1, 255);
        int max = (int) o.integer("max", boot, 1, 255);
        return of(boot, max);
    }

    /** The checks every source of a CPU configuration goes through (the command line, {@code vm.create}). */
    public static CpusConfig of(int boot, int max) throws ConfigException {
        if (boot < 1 || boot > 255) {
            throw new ConfigException(Setting.CPUS_BOOT, boot + " is out of range (1 to 255)");
        }
        if (max < boot) {
            throw new ConfigException(Setting.CPUS_MAX, max + " is less than the " + boot + " boot vCPUs");
        }
        if (max > boot) {
            throw new ConfigException(Setting.CPUS_MAX, "CPU hot-plug (more vCPUs than the boot ones) is not supported yet");
        }
        return new CpusConfig(boot, max);
    }
}
