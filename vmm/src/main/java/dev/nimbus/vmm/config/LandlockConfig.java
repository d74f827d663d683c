package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code --landlock} and {@code --landlock-rules} ({@code landlock_enable}, {@code landlock_rules} in VmConfig
 * JSON): whether the VMM restricts its own file access once the VM is built, and what it may reach beyond the
 * files its configuration names.
 */
public record LandlockConfig(boolean enabled, List<Rule> rules) {
    /** Cloud Hypervisor's default: no restriction. */
    public static final LandlockConfig OFF = new LandlockConfig(false, List.of());

    /** One {@code path=P,access=r|w|rw}: read, write or both beneath {@code path} (on it, for a file). */
    public record Rule(Path path, String access) {
        public boolean read() {
            return access.contains("r");
        }

        public boolean write() {
            return access.contains("w");
        }

        static Rule from(Values v) {
            return new Rule(v.get(Schema.LANDLOCK_RULE_PATH), v.get(Schema.LANDLOCK_RULE_ACCESS));
        }
    }

    public LandlockConfig {
        rules = List.copyOf(rules);
    }

    /** The two sections as a front end read them; rules ask for --landlock. */
    static LandlockConfig from(List<Values> enable, List<Values> rules) throws ConfigException {
        boolean enabled = false;
        for (Values v : enable) {
            enabled = v.get(Schema.LANDLOCK_ENABLE);
        }
        if (!enabled && !rules.isEmpty()) {
            Values first = rules.getFirst();
            throw new ConfigException(first.isJson()
                    ? "landlock_rules: given without landlock_enable: true"
                    : "--landlock-rules: given without --landlock");
        }
        return new LandlockConfig(enabled, rules.stream().map(Rule::from).toList());
    }
}
