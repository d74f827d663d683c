package dev.nimbus.testsupport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the host tools tests check Nimbus against (dtc, iasl, gcc, readelf, ...), installing their Debian
 * packages first through the project's {@code conformance-tests/l1/ensure-packages}. Shared by every module's
 * tests (test scope), so there is one copy.
 */
public final class HostTools {
    private static final long LIMIT_MINUTES = 10;

    private HostTools() {}

    /**
     * A command's exit status and its output: {@code out} and {@code err} apart ({@link #runSeparately}), or
     * both in {@code out} as the command interleaved them, with {@code err} empty ({@link #run},
     * {@link #runAllowingFailure}).
     */
    public record Result(int exit, String out, String err) {
        /** Everything the command printed. */
        public String output() {
            return out + err;
        }
    }

    /** The output (standard output and error together) of a command that must succeed, run in {@code dir}. */
    public static String run(Path dir, List<String> command) {
        Result r = runAllowingFailure(dir, command);
        if (r.exit() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }

    /** {@link #run(Path, List)} in the current directory. */
    public static String run(String... command) {
        return run(Path.of("."), List.of(command));
    }

    /** A command's exit status and its interleaved output, run in {@code dir}, whatever its status. */
    public static Result runAllowingFailure(Path dir, List<String> command) {
        return execute(dir, command, true);
    }

    /** A command's exit status, standard output and standard error apart, whatever its status. */
    public static Result runSeparately(List<String> command) {
        return execute(Path.of("."), command, false);
    }

    private static Result execute(Path dir, List<String> command, boolean merged) {
        try {
            Path out = Files.createTempFile("nimbus-tool", ".out");
            Path err = Files.createTempFile("nimbus-tool", ".err");
            try {
                ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
                        .redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
                if (merged) {
                    pb.redirectErrorStream(true);
                } else {
                    pb.redirectError(err.toFile());
                }
                Process p = pb.start();
                if (!p.waitFor(LIMIT_MINUTES, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " did not finish in " + LIMIT_MINUTES + " minutes");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.ISO_8859_1),
                        Files.readString(err, StandardCharsets.ISO_8859_1));
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
        Path script = repositoryRoot().resolve("conformance-tests/l1/ensure-packages");
        List<String> command = new ArrayList<>(List.of("sh", script.toString()));
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
