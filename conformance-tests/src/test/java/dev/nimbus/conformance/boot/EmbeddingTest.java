package dev.nimbus.conformance.boot;

import dev.nimbus.api.ConsoleTimeoutException;
import dev.nimbus.api.ExitReason;
import dev.nimbus.api.MicroVm;
import dev.nimbus.api.VmStatus;
import dev.nimbus.conformance.RequiresKvm;
import dev.nimbus.junit.Boot;
import dev.nimbus.junit.MicroVmTest;
import dev.nimbus.vmm.AotTraining;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * Nimbus as a library, end to end on KVM: the embedding API ({@link MicroVm}) in this test's own JVM, and the
 * JUnit extension ({@link MicroVmTest}) run by JUnit's engine on a test class of its own. The guest is the
 * virtio guest of the other tests with its root on a virtio-blk disk, and a shell on the serial console
 * ({@code nimbus.test=shell} in conformance-tests/l1/guest/e2e-script).
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class EmbeddingTest {
    private static GuestImages images;

    @BeforeAll
    static void images() throws IOException {
        images = GuestImages.forArch("x86_64");
        System.setProperty("nimbus.e2e.kernel", images.get("kernel.vmlinux"));
        System.setProperty("nimbus.e2e.initramfs", images.get("initramfs.virtio"));
        System.setProperty("nimbus.e2e.rootfs", images.get("rootfs"));
    }

    /**
     * Twenty VMs started and closed in one JVM, each with a disk, a tap (which Nimbus creates), an rng, both
     * consoles and two vCPUs: half
     * closed as soon as they started, half after their guest (a four-instruction kernel that asks for ACPI
     * power-off) ended. Afterwards the JVM has the threads, file descriptors and address space it had after
     * the first, and L1 the network interfaces (no tap is left).
     */
    @Test
    void twentyStartsAndClosesLeaveNoThreadFileDescriptorOrGuestMemoryBehind(@TempDir Path dir) throws Exception {
        Path kernel = dir.resolve("vmlinux");
        AotTraining.main(new String[] {"--write-kernel", kernel.toString()});
        Path disk = Files.write(dir.resolve("disk.raw"), new byte[1 << 20]);
        long guestMemory = 256L << 20;
        cycle(kernel, disk, true); // the first pays for class loading, the KVM speed probe, lazily made pools
        Map<String, Integer> threads = threads();
        List<String> fds = fds();
        long vmSize = vmSizeBytes();
        List<String> interfaces = interfaces();
        for (int i = 0; i < 20; i++) {
            cycle(kernel, disk, i % 2 == 0);
        }
        // vCPU and worker threads end as the machine closes; give stragglers a moment before comparing
        for (int i = 0; i < 50 && !(threads().equals(threads) && fds().equals(fds)); i++) {
            Thread.sleep(100);
        }
        assertThat(threads()).as("live threads by name, after 20 cycles").isEqualTo(threads);
        assertThat(fds()).as("open file descriptors, after 20 cycles").isEqualTo(fds);
        assertThat(interfaces()).as("network interfaces, after 20 cycles").isEqualTo(interfaces);
        assertThat(vmSizeBytes() - vmSize).as("address space grown by (20 VMs of %d MiB each)", guestMemory >> 20)
                .isLessThan(guestMemory);
    }

    private static void cycle(Path kernel, Path disk, boolean awaitPowerOff) {
        // the tap's address keeps whatever the guest sent inside L1
        MicroVm vm = MicroVm.builder().kernel(kernel).cpus(2).memoryMib(256).disk(disk).rng()
                .net("ip=192.168.249.1,mask=255.255.255.0").build();
        try (vm) {
            assertThat(vm.info().status()).isEqualTo(VmStatus.CREATED);
            vm.start();
            if (awaitPowerOff) {
                assertThat(vm.awaitExit(Duration.ofMinutes(2))).isInstanceOf(ExitReason.PoweredOff.class);
            }
        }
        assertThat(vm.info().status()).isEqualTo(VmStatus.CLOSED);
        assertThat(vm.exit()).isDone();
    }

    private static Map<String, Integer> threads() {
        Map<String, Integer> names = new TreeMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            // the JDK's shared pool grows and shrinks on its own
            if (t.isAlive() && !t.getName().startsWith("ForkJoinPool")) {
                names.merge(t.getName().replaceAll("\\d+", "N"), 1, Integer::sum);
            }
        }
        return names;
    }

    private static List<String> fds() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    out.add(Files.readSymbolicLink(p).toString().replaceAll("\\[\\d+]", "[N]"));
                } catch (IOException e) {
                    // the directory stream's own descriptor, closed meanwhile
                }
            }
        }
        Collections.sort(out);
        return out;
    }

    private static List<String> interfaces() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/sys/class/net"))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static long vmSizeBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmSize:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) << 10;
            }
        }
        throw new IllegalStateException("no VmSize in /proc/self/status");
    }

    /** The test class that JUnit's engine runs below: one VM for the class, two tests on its serial shell. */
    @MicroVmTest
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    static class ShellGuest {
        @Boot(builder = "guest", cpus = 2, awaitLine = "SHELL-READY", awaitSeconds = 300)
        static MicroVm vm;

        static MicroVm.Builder guest() throws IOException {
            Path root = Files.createTempFile("embedding-root", ".ext4");
            root.toFile().deleteOnExit();
            Files.copy(Path.of(System.getProperty("nimbus.e2e.rootfs")), root, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return MicroVm.builder().kernel(Path.of(System.getProperty("nimbus.e2e.kernel")))
                    .initramfs(Path.of(System.getProperty("nimbus.e2e.initramfs")))
                    .cmdline("console=ttyS0 quiet panic=-1 nimbus.root=/dev/vda nimbus.test=shell")
                    .memoryMib(512).disk(root);
        }

        @Test
        @Order(1)
        void answersACommand() {
            // paused, the guest cannot answer; resumed, it does
            vm.pause();
            assertThat(vm.info().status()).isEqualTo(VmStatus.PAUSED);
            vm.resume();
            assertThat(vm.info().status()).isEqualTo(VmStatus.RUNNING);
            assertThat(vm.counters().get("_disk0")).as("the root disk's counters").containsKey("read_bytes")
                    .hasEntrySatisfying("read_bytes", n -> assertThat(n).isPositive());
            vm.serial().write("echo ANSWER=$((6 * 7)) ROOT=$(awk '$2 == \"/\" { print $1 }' /proc/mounts)\n");
            assertThat(vm.serial().awaitLine("^ANSWER=", Duration.ofSeconds(60))).isEqualTo("ANSWER=42 ROOT=/dev/vda");
        }

        @Test
        @Order(2)
        void waitsForALineTheGuestNeverPrints() {
            vm.serial().awaitLine("NEVER-PRINTED", Duration.ofSeconds(3));
        }
    }

    /**
     * The JUnit extension on a test class of its own: its VM boots once for the class, its first test pauses
     * and resumes it, reads its disk's counters and gets the answer to a command typed on the serial console,
     * and its second, which waits for a line the guest
     * never prints, fails within its timeout with the console's last lines in the message and the
     * transcript in its report. Then the VM is closed: its exit future says so.
     */
    @Test
    void theJunitExtensionBootsAGuestAndAFailedTestCarriesItsConsole() {
        EngineExecutionResults results = EngineTestKit.engine("junit-jupiter").selectors(selectClass(ShellGuest.class)).execute();
        List<Event> failed = results.testEvents().failed().list();
        assertThat(results.testEvents().succeeded().list()).as("all events: %s", results.allEvents().list())
                .extracting(e -> e.getTestDescriptor().getDisplayName()).containsExactly("answersACommand()");
        assertThat(failed).hasSize(1);
        Throwable why = failed.getFirst().getRequiredPayload(TestExecutionResult.class).getThrowable().orElseThrow();
        assertThat(why).isInstanceOf(ConsoleTimeoutException.class)
                .hasMessageStartingWith("the serial console: no line matching /NEVER-PRINTED/ within 3000 ms; its last lines:")
                .hasMessageContaining("ANSWER=42");
        List<ReportEntry> entries = results.allEvents().reportingEntryPublished().list().stream()
                .map(e -> e.getRequiredPayload(ReportEntry.class)).toList();
        assertThat(entries).anySatisfy(e -> assertThat(e.getKeyValuePairs())
                .hasEntrySatisfying("microvm.vm.serial", t -> assertThat(t).contains("SHELL-READY").contains("ANSWER=42")));
        assertThat(ShellGuest.vm.info().status()).isEqualTo(VmStatus.CLOSED);
        assertThat(ShellGuest.vm.exit()).isCompletedWithValue(new ExitReason.PoweredOff("vm.delete"));
    }
}
