package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The VMM's sandbox on KVM with a guest that uses its devices: while Debian's x86-64 kernel runs with its root
 * on virtio-blk, virtio-rng and its shell on the virtio console, under {@code --landlock} and the default
 * {@code --seccomp true}, every vCPU thread, virtio worker and REST API thread has a seccomp filter
 * ({@code Seccomp: 2} in {@code /proc/PID/task/TID/status}) and the guest still works to its end. A vCPU
 * thread made (by a test hook) to call something its filter forbids ends the VMM with exit 159 and a line that
 * names the thread and the call.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class SandboxEndToEndTest {
    private static final long BOOT_LIMIT_MINUTES = 8;
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
    }

    private record Task(String name, String seccomp) {}

    @Test
    void everyVcpuWorkerAndApiThreadIsFilteredWhileTheGuestUsesItsDevicesUnderLandlock(@TempDir Path dir) throws Exception {
        Path root = new E2eVirtio(images, "kernel.bzimage", BOOT_LIMIT_MINUTES, null, 2).root(dir);
        Path socket = dir.resolve("api.sock");
        List<String> args = List.of("--api-socket", "path=" + socket, "--landlock", "-v",
                "--kernel", images.get("kernel.bzimage"), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", "console=hvc0 quiet panic=-1 nimbus.root=/dev/vda nimbus.test=console",
                "--cpus", "boot=2", "--memory", "size=512M", "--serial", "null", "--console", "tty",
                "--disk", "path=" + root, "--rng", "src=/dev/urandom");
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            assertThat(nimbus.awaitLines("ASK-COMMAND"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as("the guest's shell asked on the virtio console; output:%n%s", nimbus.transcript()).isTrue();
            // a request, so that the API's pool has served one (each thread joins at its start anyway)
            assertThat(X86VirtioTest.remote(socket, "ping")).contains("\"version\"");
            List<Task> tasks = tasks(nimbus.pid());
            List<Task> vcpus = tasks.stream().filter(t -> t.name().matches("vcpu-\\d+")).toList();
            List<Task> workers = tasks.stream().filter(t -> t.name().startsWith("virtio-pci")).toList();
            List<Task> api = tasks.stream().filter(t -> t.name().matches("api-\\d+")).toList();
            String all = tasks.toString();
            assertThat(vcpus).as(all).hasSize(2);
            assertThat(workers).as("disk, console, rng: %s", all).hasSizeGreaterThanOrEqualTo(3);
            assertThat(api).as(all).isNotEmpty();
            for (Task t : Stream.of(vcpus, workers, api).flatMap(List::stream).toList()) {
                assertThat(t.seccomp()).as("%s in %s", t, all).isEqualTo("2");
            }
            // the JVM's own threads and the thread that builds machines are not filtered
            assertThat(tasks.stream().filter(t -> t.name().equals("vm-control")).map(Task::seccomp)).as(all).containsExactly("0");
            // the disk (a file written and synced), the entropy source and the console, through filtered workers
            nimbus.type("echo sandboxed > /sandboxed && sync && echo SANDBOXED-$((6 * 7)) RNG=$(dd if=/dev/hwrng bs=8 "
                    + "count=1 2>/dev/null | wc -c) DISK=$(cat /sandboxed)");
            assertThat(nimbus.awaitLines("SANDBOXED-42 RNG=8 DISK=sandboxed"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as(nimbus.transcript()).isTrue();
            assertThat(nimbus.awaitLines("NIMBUS-GUEST-EXIT=0"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as(nimbus.transcript()).isTrue();
            X86VirtioTest.remote(socket, "shutdown-vmm");
            assertThat(nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isZero();
            assertThat(nimbus.output()).as(nimbus.transcript())
                    .anyMatch(l -> l.contains("seccomp: vCPU, virtio worker and REST API threads filtered"))
                    .anyMatch(l -> l.contains("landlock: enforced"))
                    .noneMatch(l -> l.contains("seccomp:") && l.contains("made the system call"));
        }
    }

    @Test
    void aForbiddenCallOnAVcpuThreadEndsTheVmmNamingTheThreadAndTheCall(@TempDir Path dir) throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.startWithJvmOptions(List.of("-Dnimbus.test.forbiddenCallOn=vcpu"),
                "--kernel", images.get("kernel.bzimage"), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", "console=ttyS0 quiet panic=-1", "--memory", "size=256M", "--serial", "tty", "--console", "off")) {
            int exit = nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES);
            assertThat(exit).as(nimbus.transcript()).isEqualTo(159);
            assertThat(nimbus.output()).as(nimbus.transcript()).anyMatch(l -> l.matches(
                    "nimbus: seccomp: the vCPU thread 'vcpu-0' \\(tid \\d+, now 'vcpu-0'\\) made the system call socket "
                            + "\\(41, arguments 0x2, 0x80002, 0x0\\), which its filter forbids; ending the VMM \\(exit 159\\)"));
        }
    }

    /** Each thread of process {@code pid}: its kernel name and its Seccomp mode. */
    private static List<Task> tasks(long pid) throws IOException {
        List<Task> tasks = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path d : dirs.toList()) {
                try {
                    String name = Files.readString(d.resolve("comm")).strip();
                    String seccomp = Files.readAllLines(d.resolve("status")).stream().filter(l -> l.startsWith("Seccomp:"))
                            .map(l -> l.substring("Seccomp:".length()).strip()).findFirst().orElse("?");
                    tasks.add(new Task(name, seccomp));
                } catch (IOException gone) {
                    // the thread ended while we looked
                }
            }
        }
        return tasks;
    }
}
