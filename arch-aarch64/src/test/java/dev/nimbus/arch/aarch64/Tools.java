package dev.nimbus.arch.aarch64;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the host tools the tests check against (dtc), installing their Debian packages first. */
public final class Tools {
    private Tools() {}

    /** A command's exit status, its standard output and its standard error. */
    public record Result(int exit, String out, String err) {}

    public static Result run(List<String> command) {
        try {
            Path out = Files.createTempFile("nimbus-tool", ".out");
            Path err = Files.createTempFile("nimbus-tool", ".err");
            try {
                Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
                if (!p.waitFor(5, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " did not finish in 5 minutes");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.ISO_8859_1), Files.readString(err, StandardCharsets.ISO_8859_1));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Installs Debian packages through the project's {@code conformance-tests/l1/ensure-packages}. */
    public static void ensurePackages(String... packages) {
        List<String> command = new ArrayList<>(List.of("sh", repositoryRoot().resolve("conformance-tests/l1/ensure-packages").toString()));
        command.addAll(List.of(packages));
        Result r = run(command);
        if (r.exit() != 0) {
            throw new IllegalStateException("ensure-packages failed: " + r.err());
        }
    }

    /** The repository root: the nearest directory up from here that has {@code conformance-tests/l1}. */
    public static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("conformance-tests/l1"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the repository root above " + Path.of("").toAbsolutePath());
    }
}
