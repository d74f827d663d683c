package dev.nimbus.vmm.sandbox;

import dev.nimbus.host.Landlock;
import dev.nimbus.vmm.config.CommandLineConfig;
import dev.nimbus.vmm.config.VmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code --landlock}: what a configuration is granted, and, in a JVM of its own ({@link LandlockProbe}), that
 * once enforced the listed files open as granted and an unlisted one is EACCES on every kind of thread.
 * Runs on the host and, unchanged, inside an L1 guest (docs/security.md says how).
 */
class FileSandboxTest {
    @TempDir
    Path dir;

    @Test
    void theGrantsFollowTheConfiguration() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "k");
        Path ro = Files.writeString(dir.resolve("ro.img"), "r");
        Path rw = Files.writeString(dir.resolve("rw.img"), "w");
        VmConfig config = CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString()),
                "--disk", List.of("path=" + ro + ",readonly=on", "path=" + rw), "--serial", List.of("file=" + dir.resolve("s.log")),
                "--landlock", List.of(""), "--landlock-rules", List.of("path=" + dir + ",access=w")));
        Map<Path, String> grants = FileSandbox.grants(config, new FileSandbox.ProcessFiles(
                        java.util.Optional.of(dir.resolve("api/sock")), java.util.Optional.of(dir.resolve("nimbus.log"))))
                .stream().collect(Collectors.toMap(FileSandbox.Grant::path, g -> (g.read() ? "r" : "") + (g.write() ? "w" : ""),
                        (a, b) -> a + "+" + b));
        assertThat(grants).containsEntry(kernel, "r").containsEntry(ro, "r").containsEntry(rw, "rw")
                .containsEntry(dir.resolve("s.log"), "rw").containsEntry(dir, "w").containsEntry(dir.resolve("api"), "rw")
                .containsEntry(dir.resolve("nimbus.log"), "rw").containsEntry(Path.of("/dev/kvm"), "rw")
                .containsEntry(Path.of(System.getProperty("java.home")), "r").containsEntry(Path.of("/proc"), "r");
        assertThat(grants).doesNotContainKey(Path.of("/dev/net/tun")).doesNotContainKey(Path.of("/dev/ptmx"));
    }

    @Test
    void onceEnforcedListedFilesOpenAndAnUnlistedOneIsEaccesOnEveryThread() throws Exception {
        int abi = Landlock.abiVersion();
        if (abi < 1 && System.getenv("CI") != null) {
            fail("this kernel has no Landlock and CI is set: CI kernels must have it");
        }
        assumeTrue(abi >= 1, "this kernel has no Landlock (not built in, or not in the boot's lsm= list)");
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "k");
        Path ro = Files.writeString(dir.resolve("ro.img"), "r");
        Path rw = Files.writeString(dir.resolve("rw.img"), "w");
        Path ruleDir = Files.createDirectory(dir.resolve("extra"));
        Path inRule = Files.writeString(ruleDir.resolve("x"), "x");
        Path unlisted = Files.writeString(dir.resolve("secret"), "s");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                LandlockProbe.class.getName(), kernel.toString(), ro.toString(), rw.toString(), ruleDir.toString(),
                inRule.toString(), unlisted.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("probe.out").toFile())
                .start();
        boolean ended = p.waitFor(60, TimeUnit.SECONDS);
        p.destroyForcibly();
        String out = Files.readString(dir.resolve("probe.out"), StandardCharsets.UTF_8);
        assertThat(ended).as("the probe ended: %s", out).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        Map<String, String> results = out.lines().filter(l -> l.contains("=")).collect(Collectors.toMap(
                l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1), (a, b) -> b));
        assertThat(results).as(out)
                .containsEntry("kernel.read", "ok").containsEntry("kernel.write", "EACCES")
                .containsEntry("roDisk.read", "ok").containsEntry("roDisk.write", "EACCES")
                .containsEntry("rwDisk.write", "ok")
                .containsEntry("rule.read", "ok").containsEntry("rule.write", "EACCES")
                .containsEntry("unlisted", "EACCES")
                // a thread that ran before: unrestricted until it joins, then restricted
                .containsEntry("before.unlisted.notJoined", "ok").containsEntry("before.unlisted", "EACCES")
                .containsEntry("before.kernel", "ok")
                // a thread made after: restricted from its start
                .containsEntry("after.unlisted", "EACCES")
                .containsEntry("jvm.class", "CRC32C");
    }
}
