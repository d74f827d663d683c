package dev.nimbus.conformance.launcher;

import dev.nimbus.vmm.Version;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The ./nimbus launcher at the root of the checkout, run as a user runs it. */
class LauncherTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private record Result(int exit, String out, String err) {}

    private static Result nimbus(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ROOT.resolve("nimbus").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile());
        // the reactor has just built the jar; the test must not start a nested build
        pb.environment().put("NIMBUS_NO_BUILD", "1");
        // the launcher must find JDK 25 by itself, whatever JAVA_HOME says
        pb.environment().remove("JAVA_HOME");
        Path out = Files.createTempFile("nimbus-out", ".txt");
        Path err = Files.createTempFile("nimbus-err", ".txt");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("nimbus finished").isTrue();
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void versionPrintsTheBuildVersion() throws Exception {
        Result r = nimbus("--version");
        assertThat(r.exit()).isZero();
        assertThat(Version.get()).isNotEqualTo("unknown");
        assertThat(r.out().strip()).isEqualTo("nimbus " + Version.get());
        assertThat(r.err()).as("no JVM warnings (native access is enabled)").isEmpty();
    }

    @Test
    void helpListsTheOptions() throws Exception {
        Result r = nimbus("--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("--kernel", "--cpus", "--memory", "--hypervisor", "--version");
    }

    @Test
    void mshvOnAHostWithoutDevMshvNamesTheMissingDevice() throws Exception {
        assumeFalse(Files.exists(Path.of("/dev/mshv")), "this host has /dev/mshv");
        // the input must be good, or the usage error comes first; whether it is a kernel is checked later
        Result r = nimbus("--hypervisor", "mshv", "--kernel", ROOT.resolve("pom.xml").toString(), "--console", "off");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("hypervisor 'mshv' is not usable: /dev/mshv does not exist");
    }

    @Test
    void unknownOptionIsAUsageError() throws Exception {
        Result r = nimbus("--no-such-option");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("Unknown option: '--no-such-option'");
    }

    @Test
    void onAHostWhoseKvmEmulatesKernelCodeTheWarningComesBeforeAnythingRuns() throws Exception {
        Result probe = nimbus("--check-hypervisor", "--hypervisor", "kvm");
        assumeTrue(probe.exit() == 3, "this host's /dev/kvm runs guest kernel code at hardware speed, or has none: " + probe.out());
        assertThat(probe.out()).startsWith("kvm: usable, but /dev/kvm emulates guest kernel code instruction by instruction")
                .contains("guest kernel code ran ", " loop iterations/s, user code ");

        // not a kernel: the warning comes first, then the boot stops on the image (exit 2) before a vCPU runs
        Result r = nimbus("--hypervisor", "kvm", "--kernel", ROOT.resolve("pom.xml").toString(), "--console", "off");
        assertThat(r.err().lines().findFirst()).get(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .startsWith("nimbus: warning: /dev/kvm emulates guest kernel code instruction by instruction")
                .contains("a Linux guest boots very slowly here");
        assertThat(r.exit()).isEqualTo(2);
    }
}
