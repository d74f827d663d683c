package dev.nimbus.conformance.l1;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The contract of conformance-tests/l1/run-in-l1 (docs/testing.md), on a real x86-64 L1 guest: one guest runs a
 * probe command whose effects the tests below look at, another one hangs and must be killed at the timeout.
 * The first run downloads what the rig needs into the cache.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunInL1Test {
    static final String ODD_VALUE = "a b'c \"d\" $e";

    final Path module = Path.of("").toAbsolutePath();
    final Path written = module.resolve("target/l1-rig-probe.txt");
    Run probe;

    record Run(int status, String stdout, String stderr) {}

    @BeforeAll
    void runProbeInL1() throws Exception {
        Files.deleteIfExists(written);
        probe = runInL1(600, "sh", "-c", String.join("; ",
                "echo probe-out",
                "echo probe-err >&2",
                "echo \"env=$NIMBUS_RIG_PROBE\"",
                "echo \"cwd=$(pwd)\"",
                "[ -c /dev/kvm ] && echo kvm=char-device",
                "echo written-in-l1 > target/l1-rig-probe.txt",
                "exit 7"));
    }

    @Test
    void commandsExitStatusIsTheRigsExitStatus() {
        assertThat(probe.status()).as(probe.toString()).isEqualTo(7);
    }

    @Test
    void stdoutAndStderrOfTheCommandAreStreamedBack() {
        assertThat(probe.stdout()).contains("probe-out\n").contains("probe-err\n");
    }

    @Test
    void exportedEnvironmentCarriesOverUnchanged() {
        assertThat(probe.stdout()).contains("env=" + ODD_VALUE + "\n");
    }

    @Test
    void currentDirectoryCarriesOver() {
        assertThat(probe.stdout()).contains("cwd=" + module + "\n");
    }

    @Test
    void devKvmIsACharacterDeviceInTheGuest() {
        assertThat(probe.stdout()).contains("kvm=char-device\n");
    }

    @Test
    void filesWrittenInTheWorkTreeAreOnTheHostAfterwards() throws IOException {
        assertThat(written).exists();
        assertThat(Files.readString(written)).isEqualTo("written-in-l1\n");
    }

    @Test
    void hungCommandIsKilledAtTheTimeoutWithStatus124() throws Exception {
        Run hung = runInL1(25, "sleep", "3600");
        assertThat(hung.status()).as(hung.toString()).isEqualTo(124);
        assertThat(hung.stderr()).contains("timeout");
    }

    Run runInL1(int timeoutSeconds, String... command) throws Exception {
        List<String> args = new ArrayList<>(List.of(l1Dir().resolve("run-in-l1").toString(),
                "--arch", "x86_64", "--timeout", Integer.toString(timeoutSeconds), "--"));
        args.addAll(List.of(command));
        ProcessBuilder builder = new ProcessBuilder(args).directory(module.toFile());
        builder.environment().put("NIMBUS_RIG_PROBE", ODD_VALUE);
        builder.environment().put("NIMBUS_L1_QUIET", "1");
        Path err = Files.createTempFile("run-in-l1", ".err");
        builder.redirectError(err.toFile());
        Process process = builder.start();
        process.getOutputStream().close();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        // a guard against a rig that never returns, not a timing check
        if (!process.waitFor(timeoutSeconds + 900L, TimeUnit.SECONDS)) process.destroyForcibly();
        String errText = Files.readString(err);
        Files.delete(err);
        return new Run(process.waitFor(), out, errText);
    }

    static Path l1Dir() {
        for (Path candidate : List.of(Path.of("l1"), Path.of("conformance-tests", "l1"))) {
            if (Files.isRegularFile(candidate.resolve("run-in-l1"))) return candidate.toAbsolutePath();
        }
        throw new IllegalStateException("cannot find conformance-tests/l1 from " + Path.of("").toAbsolutePath());
    }
}
