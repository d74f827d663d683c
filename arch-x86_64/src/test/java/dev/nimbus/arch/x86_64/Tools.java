package dev.nimbus.arch.x86_64;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the host tools the tests check against (iasl, readelf, file, gcc), installing their Debian packages first. */
public final class Tools {
    private Tools() {}

    /** The output (stdout and stderr together) of a command that must succeed. */
    public static String run(Path dir, List<String> command) {
        Result r = runAllowingFailure(dir, command);
        if (r.exit() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }

    public static String run(String... command) {
        return run(Path.of("."), List.of(command));
    }

    /** A command's exit status and output. */
    public record Result(int exit, String output) {}

    public static Result runAllowingFailure(Path dir, List<String> command) {
        try {
            Path out = Files.createTempFile("nimbus-tool", ".out");
            try {
                Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                        .redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                        .start();
                if (!p.waitFor(10, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " did not finish in 10 minutes");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.ISO_8859_1));
            } finally {
                Files.deleteIfExists(out);
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
        Path script = repositoryRoot().resolve("conformance-tests/l1/ensure-packages");
        List<String> command = new java.util.ArrayList<>(List.of("sh", script.toString()));
        command.addAll(List.of(packages));
        run(Path.of("."), command);
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
