package dev.nimbus.conformance.launcher;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How {@code ./nimbus} chooses its Java, on made-up machines: the real launcher and {@code .mvn/jdk25.sh}
 * copied into a scratch checkout whose jar, sources, build and package tools are fakes, with
 * {@code NIMBUS_JVM_DIR} standing for {@code /usr/lib/jvm} and a {@code PATH} of only the tools the
 * launcher may use. Each fake {@code java} prints which one ran, so the choice can be read back.
 */
class LauncherJavaDiscoveryTest {
    @TempDir Path tmp;
    private Path root;
    private Path jvm;
    private Path bin;
    private Path jar;
    private final Map<String, String> env = new HashMap<>();

    private record Result(int exit, String out, String err) {}

    @BeforeEach
    void aScratchCheckout() throws IOException {
        Path real = Path.of("..").toAbsolutePath().normalize();
        root = Files.createDirectories(tmp.resolve("checkout"));
        Files.createDirectories(root.resolve(".mvn"));
        Files.copy(real.resolve("nimbus"), root.resolve("nimbus"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.copy(real.resolve(".mvn/jdk25.sh"), root.resolve(".mvn/jdk25.sh"));
        Files.createDirectories(root.resolve("vmm"));
        Files.copy(real.resolve("vmm/nimbus.jvm-options"), root.resolve("vmm/nimbus.jvm-options"));
        // a source older than the jar: the jar is current
        Path source = root.resolve("vmm/src/main/java/Vmm.java");
        Files.createDirectories(source.getParent());
        Files.writeString(source, "class Vmm {}");
        Files.setLastModifiedTime(source, FileTime.from(Instant.now().minusSeconds(3600)));
        jar = root.resolve("vmm/target/nimbus.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "a jar");
        // the build: a fake ./mvnw that says so and refreshes the jar
        script(root.resolve("mvnw"), "echo \"built with $JAVA_HOME\" >&2; touch \"$(dirname \"$0\")/vmm/target/nimbus.jar\"");
        // the package installer: records what it was asked for and installs a Java 25 runtime
        script(root.resolve("conformance-tests/l1/ensure-packages"),
                "echo \"$*\" >> \"" + tmp.resolve("installed") + "\"\n"
                        + "mkdir -p \"$NIMBUS_JVM_DIR/java-25-openjdk-amd64/bin\"\n"
                        + "printf 'JAVA_VERSION=\"25.0.1\"\\n' > \"$NIMBUS_JVM_DIR/java-25-openjdk-amd64/release\"\n"
                        + "printf '#!/bin/sh\\necho \"ran $0 $*\"\\n' > \"$NIMBUS_JVM_DIR/java-25-openjdk-amd64/bin/java\"\n"
                        + "chmod +x \"$NIMBUS_JVM_DIR/java-25-openjdk-amd64/bin/java\"");
        // ./nimbus demo's helpers: a guest image path, and an L1 rig that only says what it would run
        script(root.resolve("conformance-tests/l1/guest-image"), "echo /images/$1");
        script(root.resolve("conformance-tests/l1/run-in-l1"), "echo \"run-in-l1 $*\"");

        jvm = Files.createDirectories(tmp.resolve("jvm"));
        bin = Files.createDirectories(tmp.resolve("bin"));
        for (String tool : List.of("dirname", "mktemp", "head", "cat", "rm", "touch", "mkdir", "chmod", "uname", "find", "env", "printf")) {
            Path at = Path.of("/usr/bin", tool);
            script(bin.resolve(tool), "exec " + (Files.exists(at) ? at : Path.of("/bin", tool)) + " \"$@\"");
        }
        // apt-cache: a Debian release with or without Java 25 (FAKE_CANDIDATE); id: root or not (FAKE_UID)
        script(bin.resolve("apt-cache"), "[ -n \"${FAKE_CANDIDATE:-}\" ] && printf '%s:\\n  Installed: (none)\\n  Candidate: %s\\n' \"$2\" \"$FAKE_CANDIDATE\"; exit 0");
        script(bin.resolve("id"), "echo \"${FAKE_UID:-0}\"");
        env.put("PATH", bin.toString());
        env.put("NIMBUS_JVM_DIR", jvm.toString());
    }

    private static void script(Path path, String body) throws IOException {
        Files.createDirectories(path.getParent());
        Files.writeString(path, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** A Java of feature version {@code version} at {@code jvm/name}: a JDK (with javac) or only a runtime. */
    private Path java(String name, int version, boolean jdk) throws IOException {
        Path home = Files.createDirectories(jvm.resolve(name).resolve("bin"));
        Files.writeString(home.getParent().resolve("release"), "JAVA_VERSION=\"" + version + ".0.2\"\n");
        script(home.resolve("java"), "echo \"ran $0 $*\"");
        if (jdk) {
            script(home.resolve("javac"), "exit 0");
        }
        return home.getParent();
    }

    private void sourcesChanged() throws IOException {
        Files.setLastModifiedTime(jar, FileTime.from(Instant.now().minusSeconds(7200)));
    }

    private Result nimbus(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(root.resolve("nimbus").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Path out = tmp.resolve("out");
        Path err = tmp.resolve("err");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the launcher finished").isTrue();
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void aCurrentJarRunsOnAJavaRuntimeAlone() throws Exception {
        Path jre = java("java-25-openjdk-amd64", 25, false);
        Result r = nimbus("--version");
        assertThat(r.err()).isEmpty();
        assertThat(r.exit()).isZero();
        assertThat(r.out().strip()).isEqualTo("ran " + jre.resolve("bin/java")
                + " --enable-native-access=ALL-UNNAMED " + jvmOptions() + " -jar " + jar + " --version");
    }

    /** vmm/nimbus.jvm-options as the launcher passes them: one line each, without comments and blank lines. */
    private String jvmOptions() throws IOException {
        return String.join(" ", Files.readAllLines(root.resolve("vmm/nimbus.jvm-options")).stream()
                .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList());
    }

    @Test
    void theBuildsAotCacheIsUsedOnlyWhenItIsNewerThanTheJar() throws Exception {
        Path jre = java("java-25-openjdk-amd64", 25, false);
        Path aot = root.resolve("vmm/target/nimbus.aot");
        Files.writeString(aot, "a cache");
        Files.setLastModifiedTime(jar, FileTime.from(Instant.now().minusSeconds(60)));
        assertThat(nimbus("--version").out().strip()).isEqualTo("ran " + jre.resolve("bin/java")
                + " --enable-native-access=ALL-UNNAMED " + jvmOptions() + " -XX:AOTCache=" + aot
                + " -Xlog:aot=off -Xlog:cds=off -jar " + jar + " --version");
        // a jar rebuilt after the cache: the cache is of another jar
        Files.setLastModifiedTime(aot, FileTime.from(Instant.now().minusSeconds(120)));
        assertThat(nimbus("--version").out()).doesNotContain("AOTCache");
    }

    @Test
    void theJvmOptionsComeBeforeTheUsersOwn() throws Exception {
        java("java-25-openjdk-amd64", 25, false);
        assertThat(jvmOptions()).contains("-XX:+UseSerialGC").doesNotContain("#");
        env.put("NIMBUS_JAVA_OPTS", "-XX:+UseG1GC");
        String out = nimbus("--version").out();
        assertThat(out).contains(jvmOptions() + " -XX:+UseG1GC -jar ");
    }

    @Test
    void aStaleJarIsBuiltWithAJdkAndThenRun() throws Exception {
        java("java-25-openjdk-amd64", 25, false);
        Path jdk = java("temurin-25-jdk-amd64", 25, true);
        sourcesChanged();
        Result r = nimbus("--version");
        assertThat(r.exit()).isZero();
        assertThat(r.err()).contains("building the VMM");
        assertThat(r.out()).startsWith("ran " + jdk.resolve("bin/java"));
    }

    @Test
    void aStaleJarWithOnlyARuntimeNamesThePackageThatBuildsIt() throws Exception {
        java("java-25-openjdk-amd64", 25, false);
        sourcesChanged();
        env.put("FAKE_CANDIDATE", "25.0.1+8-1");
        env.put("FAKE_UID", "1000");
        Result r = nimbus("--version");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().lines()).singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .startsWith("nimbus: no JDK 25 found")
                .endsWith("install it with: sudo apt-get install openjdk-25-jdk-headless");
    }

    @Test
    void onAReleaseWithoutJava25TheOneLineSaysWhereToGetIt() throws Exception {
        java("java-17-openjdk-amd64", 17, true);
        java("java-21-openjdk-amd64", 21, true);
        env.put("JAVA_HOME", jvm.resolve("java-17-openjdk-amd64").toString());
        Result r = nimbus("demo");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().lines()).singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .startsWith("nimbus: no Java 25 runtime found (JAVA_HOME=" + jvm.resolve("java-17-openjdk-amd64") + " is missing or older")
                .contains("this system's packages have none")
                .endsWith("install Temurin 25 (https://adoptium.net) and set JAVA_HOME to it");
        assertThat(tmp.resolve("installed")).doesNotExist();
    }

    @Test
    void theDemoInstallsTheRuntimeAsRootWhereDebianHasIt() throws Exception {
        env.put("FAKE_CANDIDATE", "25.0.1+8-1");
        Result r = nimbus("demo", "--arch", "riscv64");
        assertThat(r.err()).startsWith("nimbus: no Java 25 runtime found").contains("installing Debian's openjdk-25-jre-headless");
        assertThat(Files.readString(tmp.resolve("installed")).strip()).isEqualTo("openjdk-25-jre-headless");
        // then the demo goes on to the riscv64 L1 guest
        assertThat(r.exit()).isZero();
        assertThat(r.out()).startsWith("run-in-l1 --arch riscv64 -- env NIMBUS_NO_BUILD=1 " + root.resolve("nimbus") + " -v --kernel /images/kernel");
    }

    @Test
    void onlyTheDemoInstalls() throws Exception {
        env.put("FAKE_CANDIDATE", "25.0.1+8-1");
        Result r = nimbus("--version");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip()).endsWith("install it with: apt-get install openjdk-25-jre-headless");
        assertThat(tmp.resolve("installed")).doesNotExist();
    }

    @Test
    void aJavaHomeOf25IsTakenBeforeTheOthersAndTemurinBeforeTheRest() throws Exception {
        java("java-25-openjdk-amd64", 25, true);
        Path temurin = java("temurin-25-jdk-amd64", 25, true);
        Path own = java("own-jdk", 26, true);
        env.put("JAVA_HOME", own.toString());
        assertThat(nimbus("--version").out()).startsWith("ran " + own.resolve("bin/java"));
        env.remove("JAVA_HOME");
        assertThat(nimbus("--version").out()).startsWith("ran " + temurin.resolve("bin/java"));
    }

    @Test
    void withoutFindAsInTheL1GuestsAJarThatIsThereIsRun() throws Exception {
        Path jre = java("java-25-openjdk-riscv64", 25, false);
        sourcesChanged();
        Files.delete(bin.resolve("find"));
        Result r = nimbus("--version");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).startsWith("ran " + jre.resolve("bin/java"));
    }

    @Test
    void noBuildWithoutAJarSaysSo() throws Exception {
        java("java-25-openjdk-amd64", 25, true);
        Files.delete(jar);
        env.put("NIMBUS_NO_BUILD", "1");
        Result r = nimbus("--version");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("nimbus: " + jar + " is missing (NIMBUS_NO_BUILD=1 asks not to build it)");
    }
}
