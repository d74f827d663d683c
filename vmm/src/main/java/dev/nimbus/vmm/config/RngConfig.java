package dev.nimbus.vmm.config;

import java.nio.file.Path;

/** {@code --rng src=PATH} ({@code rng} in VmConfig JSON): the host entropy source of a virtio-rng device. */
public record RngConfig(Path src) {
    /** One {@code --rng} value. */
    public static RngConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.RNG, text));
    }

    /** The section's values from either front end. */
    public static RngConfig from(Values v) {
        return new RngConfig(v.get(Schema.RNG_SRC));
    }
}
