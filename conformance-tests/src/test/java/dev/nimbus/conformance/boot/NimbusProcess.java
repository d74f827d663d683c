package dev.nimbus.conformance.boot;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@code nimbus} process as a user runs it: the VMM jar the build made, on the JVM that runs the test,
 * with standard input a pipe the test can type into and standard output and error read line by line.
 * The time limits here guard against a hung guest; they are not timing checks (everything under TCG is slow).
 */
final class NimbusProcess implements AutoCloseable {
    private static final Path JAR = locateJar();
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private NimbusProcess(Process process) {
        this.process = process;
        this.reader = Thread.ofPlatform().daemon(true).name("nimbus-output").start(this::read);
    }

    static NimbusProcess start(String... args) throws IOException {
        return startWithJvmOptions(List.of(), args);
    }

    /** The same, with options for its JVM first (a test hook's {@code -D}). */
    static NimbusProcess startWithJvmOptions(List<String> jvmOptions, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return new NimbusProcess(new ProcessBuilder(cmd).redirectErrorStream(true).start());
    }

    /**
     * The same through the {@code ./nimbus} launcher at the checkout's root, as a user runs it: without
     * {@code JAVA_HOME}, so that the launcher finds a Java of its own (in the AArch64 and riscv64 L1 guests,
     * Debian's runtime, which has no {@code javac}), and without {@code NIMBUS_NO_BUILD}, so that it decides
     * for itself that the jar is current.
     */
    static NimbusProcess startThroughTheLauncher(String... args) throws IOException {
        return startCommand(JAR.getParent().getParent().getParent().resolve("nimbus"), env -> {
            env.remove("JAVA_HOME");
            env.remove("NIMBUS_NO_BUILD");
        }, args);
    }

    /**
     * The same from an unpacked distribution ({@code home/bin/nimbus}) with an empty environment: no
     * {@code PATH}, no {@code JAVA_HOME}, so nothing but the tarball's own runtime can run it.
     */
    static NimbusProcess startFromDistribution(Path home, String... args) throws IOException {
        return startCommand(home.resolve("bin/nimbus"), java.util.Map::clear, args);
    }

    private static NimbusProcess startCommand(Path command, java.util.function.Consumer<java.util.Map<String, String>> environment,
                                              String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(command.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        environment.accept(pb.environment());
        return new NimbusProcess(pb.start());
    }

    /** The user an unprivileged VMM runs as: {@code nobody}. */
    static final int UNPRIVILEGED_UID = 65534;

    /**
     * The same as {@link #start}, but as user {@code nobody} whose only group is {@code /dev/kvm}'s
     * ({@code setpriv}): no root, no capabilities, what a distribution gives a member of group kvm. The VMM's
     * jar is copied into {@code dir} (made world-readable), as the caller must copy the files the VMM reads.
     */
    static NimbusProcess startUnprivileged(Path dir, String... args) throws IOException {
        Path kvm = Path.of("/dev/kvm");
        int mode = (Integer) Files.getAttribute(kvm, "unix:mode");
        int gid = (Integer) Files.getAttribute(kvm, "unix:gid");
        if ((mode & 0060) != 0060 || gid == 0) {
            throw new IllegalStateException(String.format("/dev/kvm is mode %o, group %d: an unprivileged VMM needs it readable and "
                    + "writable by a group of its own, as distributions set it up (root:kvm 0660; the L1 rig does so)", mode & 07777, gid));
        }
        worldReadable(dir);
        Path jar = Files.copy(JAR, dir.resolve("nimbus.jar"));
        worldReadable(jar);
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + UNPRIVILEGED_UID, "--regid=" + UNPRIVILEGED_UID,
                "--groups=" + gid, "--inh-caps=-all", "--bounding-set=-all",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", jar.toString()));
        cmd.addAll(List.of(args));
        return new NimbusProcess(new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start());
    }

    /** Makes {@code p} readable (and a directory searchable) by everyone. */
    static Path worldReadable(Path p) throws IOException {
        Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString(
                Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
        return p;
    }

    /** The VMM's process ID. */
    long pid() {
        return process.pid();
    }

    /** The real user ID of the process now (the Uid line of /proc/PID/status), or -1 once it has ended. */
    int uid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
                if (line.startsWith("Uid:")) {
                    return Integer.parseInt(line.split("\\s+")[1]);
                }
            }
        } catch (IOException e) {
            // gone
        }
        return -1;
    }

    private static Path locateJar() {
        for (Path p : List.of(Path.of("../vmm/target/nimbus.jar"), Path.of("vmm/target/nimbus.jar"))) {
            if (Files.isRegularFile(p)) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("vmm/target/nimbus.jar is missing: run the tests through ./mvnw verify");
    }

    private void read() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                String clean = line.replace("\r", "");
                synchronized (lines) {
                    lines.add(clean);
                    lines.notifyAll();
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    /** Waits until {@code count} lines match {@code test}; false when the process ended or time ran out first. */
    boolean awaitLines(Predicate<String> test, int count, long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (lines) {
            while (lines.stream().filter(test).count() < count) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || (!process.isAlive() && !reader.isAlive())) {
                    return lines.stream().filter(test).count() >= count;
                }
                lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.min(left, TimeUnit.SECONDS.toNanos(1)))));
            }
            return true;
        }
    }

    /** Types {@code text} and a newline on the guest's serial console. */
    void type(String text) throws IOException {
        OutputStream in = process.getOutputStream();
        in.write((text + "\n").getBytes(StandardCharsets.US_ASCII));
        in.flush();
    }

    /** Waits for the process to end and returns its exit code, or -1 when it did not end in time (then it is killed). */
    int awaitExit(long timeout, TimeUnit unit) throws InterruptedException {
        if (!process.waitFor(timeout, unit)) {
            process.destroyForcibly();
            return -1;
        }
        reader.join(TimeUnit.SECONDS.toMillis(10));
        return process.exitValue();
    }

    /** Everything printed so far. */
    List<String> output() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    String transcript() {
        return String.join("\n", output());
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
