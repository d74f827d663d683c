package dev.nimbus.vmm.wiring;

import java.util.Locale;
import java.util.Set;

/** The user's {@code --hypervisor} value: {@code auto}, {@code kvm} or {@code mshv}. */
public record HypervisorChoice(String name) {
    public static final Set<String> NAMES = Set.of("auto", "kvm", "mshv");

    public HypervisorChoice {
        name = name.toLowerCase(Locale.ROOT);
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("--hypervisor: expected auto, kvm or mshv, got '" + name + "'");
        }
    }

    public static HypervisorChoice auto() {
        return new HypervisorChoice("auto");
    }
}
