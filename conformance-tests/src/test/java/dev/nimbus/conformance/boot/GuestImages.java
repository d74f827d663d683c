package dev.nimbus.conformance.boot;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The guest images that {@code conformance-tests/l1/prepare-e2e} built on the host before the L1 guest
 * started (there is no network in L1), as listed in {@code target/l1/guest-images-ARCH.properties}.
 */
record GuestImages(Properties paths) {
    static GuestImages forArch(String arch) throws IOException {
        Path file = Path.of("target/l1/guest-images-" + arch + ".properties");
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException(file.toAbsolutePath() + " is missing: run conformance-tests/l1/prepare-e2e --arch " + arch
                    + " (./mvnw verify does it before the KVM tests)");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        return new GuestImages(p);
    }

    String get(String key) {
        String v = paths.getProperty(key);
        if (v == null || !Files.isRegularFile(Path.of(v))) {
            throw new IllegalStateException("guest image '" + key + "' (" + v + ") is missing");
        }
        return v;
    }

    String cmdline() {
        return paths.getProperty("cmdline");
    }
}
