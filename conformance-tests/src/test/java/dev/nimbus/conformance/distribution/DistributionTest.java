package dev.nimbus.conformance.distribution;

import dev.nimbus.vmm.Version;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The self-contained tarball, unpacked into an empty directory and run with an empty environment (no
 * {@code PATH}, no {@code JAVA_HOME}): its own runtime runs the VMM, the REST API and {@code nimbus-remote}
 * on the few JDK modules it was linked with. Booting a guest from it is {@code X86BootTest}'s (in L1).
 */
class DistributionTest {
    @TempDir static Path unpacked;
    private static Path home;

    private record Result(int exit, String out, String err) {}

    @BeforeAll
    static void unpack() throws Exception {
        home = Distribution.unpack(unpacked);
    }

    private static Result run(Map<String, String> env, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(unpacked.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Path out = Files.createTempFile(unpacked, "out", ".txt");
        Path err = Files.createTempFile(unpacked, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s finished", List.of(cmd)).isTrue();
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void theTarballHoldsTheLaunchersTheJarTheRuntimeAndTheAotCache() throws Exception {
        assertThat(home.getFileName().toString()).isEqualTo("nimbus-" + Version.get() + "-linux-" + Distribution.arch());
        try (var top = Files.list(home)) {
            assertThat(top.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("bin", "lib", "runtime", "README");
        }
        for (String launcher : List.of("bin/nimbus", "bin/nimbus-remote")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home.resolve(launcher)))).isEqualTo("rwxr-xr-x");
        }
        assertThat(home.resolve("lib/nimbus.jar")).isRegularFile();
        assertThat(home.resolve("lib/nimbus.aot")).isRegularFile();
        // only the modules Nimbus uses: no desktop, SQL, XML, naming or Kerberos
        String release = Files.readString(home.resolve("runtime/release"));
        assertThat(release).contains("MODULES=\"java.base java.logging java.management\"");
    }

    @Test
    void versionRunsOnTheRuntimeInTheTarballWithNoEnvironmentAtAll() throws Exception {
        Result r = run(Map.of(), home.resolve("bin/nimbus").toString(), "--version");
        assertThat(r.err()).isEmpty();
        assertThat(r.exit()).isZero();
        assertThat(r.out().strip()).isEqualTo("nimbus " + Version.get());
        // the JVM that ran is the tarball's own
        Result settings = run(Map.of("NIMBUS_JAVA_OPTS", "-XshowSettings:properties"), home.resolve("bin/nimbus").toString(), "--version");
        assertThat(settings.err()).contains("java.home = " + home.resolve("runtime"));
    }

    @Test
    void theAotCacheFitsTheRuntimeItCameWith() throws Exception {
        // AOTMode=on: a cache the JVM cannot use is an error instead of a slower start
        Result r = run(Map.of("NIMBUS_JAVA_OPTS", "-XX:AOTMode=on"), home.resolve("bin/nimbus").toString(), "--version");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("nimbus " + Version.get());
    }

    @Test
    void aLinkToTheLauncherFindsItsHome() throws Exception {
        Path link = Files.createSymbolicLink(unpacked.resolve("nimbus"), home.resolve("bin/nimbus"));
        Result r = run(Map.of("PATH", "/usr/bin:/bin"), link.toString(), "--version");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("nimbus " + Version.get());
    }

    @Test
    void theRestApiAndNimbusRemoteWorkOnTheLinkedModules() throws Exception {
        Path socket = unpacked.resolve("api.sock");
        Path vm = Files.writeString(unpacked.resolve("vm.json"), """
                {"payload": {"kernel": "%s", "cmdline": "console=ttyS0"}, "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
                 "memory": {"size": 268435456}, "serial": {"mode": "Null"}, "console": {"mode": "Off"}}
                """.formatted(home.resolve("README")));
        List<String> server = new ArrayList<>(List.of(home.resolve("bin/nimbus").toString(), "--api-socket", "path=" + socket));
        ProcessBuilder pb = new ProcessBuilder(server).redirectErrorStream(true).redirectOutput(unpacked.resolve("vmm.log").toFile());
        pb.environment().clear();
        Process vmm = pb.start();
        try {
            String remote = home.resolve("bin/nimbus-remote").toString();
            for (int i = 0; i < 300 && !Files.exists(socket); i++) {
                Thread.sleep(50);
            }
            assertThat(run(Map.of(), remote, "--api-socket", socket.toString(), "ping").out()).contains("\"version\"");
            Result created = run(Map.of(), remote, "--api-socket", socket.toString(), "create", vm.toString());
            assertThat(created.exit()).as(created.err()).isZero();
            Result info = run(Map.of(), remote, "--api-socket", socket.toString(), "info");
            assertThat(info.exit()).as(info.err()).isZero();
            assertThat(info.out()).contains("\"state\":\"Created\"", "\"boot_vcpus\":2", "\"size\":268435456");
            // a bad request: the JSON error array, through Jackson, and ch-remote's error chain
            Result bad = run(Map.of(), remote, "--api-socket", socket.toString(), "create", home.resolve("README").toString());
            assertThat(bad.exit()).isNotZero();
            assertThat(bad.err()).contains("Server responded with BadRequest");
            assertThat(run(Map.of(), remote, "--api-socket", socket.toString(), "shutdown-vmm").exit()).isZero();
            assertThat(vmm.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(vmm.exitValue()).as(Files.readString(unpacked.resolve("vmm.log"))).isZero();
        } finally {
            vmm.destroyForcibly();
        }
    }
}
