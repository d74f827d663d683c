package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Set;

/** {@code --rng src=PATH}: the host entropy source of a virtio-rng device (default /dev/urandom). */
public record RngConfig(Path src) {
    static final Set<String> KEYS = Set.of("src");
    static final Set<String> UNSUPPORTED = Set.of("iommu");

    public static RngConfig parse(String text) throws ConfigException {
        OptionList o = OptionList.parse("--rng", text, KEYS, UNSUPPORTED, Set.of());
        return new RngConfig(Path.of(o.string("src").orElse("/dev/urandom")));
    }
}
