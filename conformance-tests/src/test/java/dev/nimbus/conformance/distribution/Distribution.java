package dev.nimbus.conformance.distribution;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The tarball the build made for this machine's architecture ({@code distribution/build-dist}), and
 * unpacking it as an operator would.
 */
public final class Distribution {
    private Distribution() {
    }

    /** {@code x86_64}, {@code aarch64} or {@code riscv64}: the name the tarball carries. */
    public static String arch() {
        return switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64" -> "aarch64";
            case "riscv64" -> "riscv64";
            default -> throw new IllegalStateException("no distribution for " + System.getProperty("os.arch"));
        };
    }

    /** {@code distribution/target/nimbus-VERSION-linux-ARCH.tar.gz}. */
    public static Path tarball() throws IOException {
        for (Path dir : List.of(Path.of("../distribution/target"), Path.of("distribution/target"))) {
            if (Files.isDirectory(dir)) {
                try (var files = Files.list(dir)) {
                    List<Path> found = files.filter(p -> p.getFileName().toString().matches("nimbus-.*-linux-" + arch() + "\\.tar\\.gz")).toList();
                    if (found.size() == 1) {
                        return found.getFirst().toAbsolutePath().normalize();
                    }
                }
            }
        }
        throw new IllegalStateException("distribution/target/nimbus-*-linux-" + arch() + ".tar.gz is missing: run the tests through ./mvnw verify");
    }

    /** Unpacks the tarball into {@code dir} with tar, as an operator would; returns the directory it made. */
    public static Path unpack(Path dir) throws IOException, InterruptedException {
        Path tarball = tarball();
        Process tar = new ProcessBuilder("tar", "-C", dir.toString(), "-xzf", tarball.toString()).inheritIO().start();
        if (!tar.waitFor(2, TimeUnit.MINUTES) || tar.exitValue() != 0) {
            throw new IOException("tar -xzf " + tarball + " failed");
        }
        String name = tarball.getFileName().toString();
        return dir.resolve(name.substring(0, name.length() - ".tar.gz".length()));
    }
}
