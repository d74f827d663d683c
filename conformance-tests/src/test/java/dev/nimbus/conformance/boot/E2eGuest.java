package dev.nimbus.conformance.boot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the end-to-end guests of {@code conformance-tests/l1/guest/e2e-script} print, read back the same
 * way on every architecture: the kernel log of the {@code facts} test, its MemTotal, and the
 * {@code reboot} test's conversation over the serial console.
 */
final class E2eGuest {
    private E2eGuest() {}

    /** The guest's kernel log, printed between DMESG-BEGIN and DMESG-END by the {@code facts} test. */
    static List<String> kernelLog(List<String> out) {
        int begin = out.indexOf("DMESG-BEGIN");
        int end = out.indexOf("DMESG-END");
        assertThat(begin).as("the guest printed its kernel log").isNotNegative();
        assertThat(end).isGreaterThan(begin);
        return out.subList(begin + 1, end);
    }

    /**
     * The command line of the end-to-end guests that talk over the serial port: {@code kernel}, the {@code initramfs}
     * of {@code images} running the e2e script's {@code test}, the serial port on the terminal, no virtio console,
     * then {@code extra}.
     */
    static List<String> serialGuestArgs(GuestImages images, String kernel, String test, String... extra) {
        List<String> a = new ArrayList<>(List.of("--kernel", kernel, "--initramfs", images.get("initramfs"),
                "--cmdline", images.cmdline() + " nimbus.test=" + test, "--serial", "tty", "--console", "off"));
        a.addAll(List.of(extra));
        return a;
    }

    /** What {@link #demoGuest} starts: a way to run the VMM with these arguments. */
    interface Start {
        NimbusProcess start(String... args) throws Exception;
    }

    /**
     * The guest of {@code ./nimbus demo} on the demo's machine (kernel {@code kernel}), started by {@code how}:
     * it comes to init, answers, powers off, and the process exits 0 with no line of the launcher's own.
     */
    static void demoGuest(Start how, GuestImages images, String kernel, long limitMinutes, Pattern badLogLine) throws Exception {
        try (NimbusProcess nimbus = how.start("--kernel", images.get(kernel), "--initramfs", images.get("initramfs.demo"),
                "--cmdline", images.cmdline(), "--cpus", "boot=2", "--memory", "size=512M", "--serial", "tty", "--console", "off")) {
            int exit = nimbus.awaitExit(limitMinutes, TimeUnit.MINUTES);
            String transcript = nimbus.transcript();
            assertThat(exit).as(transcript).isZero();
            assertThat(nimbus.output()).as(transcript).noneMatch(l -> l.startsWith("nimbus: "))
                    .containsSubsequence("Nimbus demo guest: init is running", "Welcome to a Nimbus guest.",
                            "2", "The guest powers off now.", "NIMBUS-GUEST-EXIT=0");
            assertThat(nimbus.output()).as(transcript).noneMatch(l -> l.contains("Segmentation fault") || badLogLine.matcher(l).find());
        }
    }

    /**
     * {@link #demoGuest} through the {@code ./nimbus} launcher with no {@code JAVA_HOME}. Where the machine has
     * only a Java runtime (the AArch64 and riscv64 L1 guests), that is what ran it.
     */
    static void demoGuestThroughTheLauncher(GuestImages images, long limitMinutes, Pattern badLogLine) throws Exception {
        if (!System.getProperty("os.arch").equals("amd64")) {
            assertThat(Path.of(System.getProperty("java.home"), "bin", "javac")).as("this L1 guest has only a Java runtime").doesNotExist();
        }
        demoGuest(NimbusProcess::startThroughTheLauncher, images, "kernel.image", limitMinutes, badLogLine);
    }

    /**
     * Waits for {@code nimbus} to refuse its input: exit 2 and one line of output, which starts "nimbus: " and is
     * returned for the caller's checks of what it names.
     */
    static String refusedInOneLine(NimbusProcess nimbus) throws Exception {
        assertThat(nimbus.awaitExit(2, TimeUnit.MINUTES)).as(nimbus.transcript()).isEqualTo(2);
        assertThat(nimbus.output()).as(nimbus.transcript()).hasSize(1);
        String line = nimbus.output().getFirst();
        assertThat(line).startsWith("nimbus: ");
        return line;
    }

    /**
     * Waits for the {@code facts} test of a guest with 2 vCPUs and 512 MiB to power off and checks what every
     * architecture's guest reports: exit 0, its markers, 2 CPUs, MemTotal (512 MiB less what the kernel keeps for
     * itself: its image, page structures, reserved low memory), and no kernel log line {@code badLogLine} finds.
     * Returns the guest's output, for the architecture's own checks.
     */
    static List<String> factsOfTwoVcpus(NimbusProcess nimbus, long limitMinutes, Pattern badLogLine) throws Exception {
        int exit = nimbus.awaitExit(limitMinutes, TimeUnit.MINUTES);
        List<String> out = nimbus.output();
        String transcript = nimbus.transcript();
        assertThat(exit).as("nimbus exit code after the guest's poweroff -f; output:%n%s", transcript).isZero();
        assertThat(out).as(transcript).contains("NIMBUS-E2E-UP", "E2E-TEST=facts", "NPROC=2", "NIMBUS-GUEST-EXIT=0");
        assertThat(memTotalKib(out)).isBetween(400L * 1024, 512L * 1024);
        assertThat(kernelLog(out)).as("kernel log lines that point at a fault in the machine").noneMatch(l -> badLogLine.matcher(l).find());
        return out;
    }

    /** The guest's MemTotal line, in KiB. */
    static long memTotalKib(List<String> out) {
        return out.stream().filter(l -> l.startsWith("MemTotal:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElseThrow();
    }

    /**
     * Drives the {@code reboot} test: answers "reboot" the first time the guest asks, "off" the second
     * time, and checks that nimbus built the machine again exactly once and exited 0 after the power-off.
     */
    static void rebootsOnceThenPowersOff(NimbusProcess nimbus, long limitMinutes) throws Exception {
        assertThat(nimbus.awaitLines("ASK-REBOOT"::equals, 1, limitMinutes, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
        nimbus.type("reboot");
        assertThat(nimbus.awaitLines("ASK-REBOOT"::equals, 2, limitMinutes, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
        nimbus.type("off");
        int exit = nimbus.awaitExit(limitMinutes, TimeUnit.MINUTES);
        String transcript = nimbus.transcript();
        assertThat(exit).as(transcript).isZero();
        assertThat(nimbus.output().stream().filter("NIMBUS-E2E-UP"::equals)).as(transcript).hasSize(2);
        assertThat(nimbus.output()).as(transcript).containsSubsequence("ANSWER=reboot", "NIMBUS-E2E-UP", "ANSWER=off", "NIMBUS-GUEST-EXIT=0");
    }

    /** A {@code /proc/meminfo} count of this host ({@code HugePages_Free}); the number, without its unit. */
    static long meminfo(String name) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith(name + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("/proc/meminfo has no " + name);
    }

    /** The mappings of process {@code pid}, as {@code /proc/PID/smaps} lists them: a header line, then its fields. */
    static List<List<String>> smaps(long pid) throws IOException {
        List<List<String>> mappings = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                mappings.add(new ArrayList<>());
            }
            if (!mappings.isEmpty()) {
                mappings.getLast().add(line);
            }
        }
        return mappings;
    }

    /** One field's line of a mapping of {@link #smaps}; {@code "NAME: (none)"} where it has none. */
    static String smapsField(List<String> mapping, String name) {
        return mapping.stream().filter(l -> l.startsWith(name + ":")).findFirst().orElse(name + ": (none)");
    }

    /** A field of a mapping of {@link #smaps} in KiB; 0 where it has none. */
    static long smapsKib(List<String> mapping, String name) {
        String digits = smapsField(mapping, name).replaceAll("[^0-9]", "");
        return digits.isEmpty() ? 0 : Long.parseLong(digits);
    }
}
