package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's own arm64 kernel booted by Nimbus on KVM, end to end: the same {@code nimbus} command line as
 * on x86-64, the arm64 Image boot protocol, the device tree, the vGICv3, PSCI (secondary CPUs, power-off,
 * reset), the PL011 console, the PCI host bridge with its MSIs through the ITS, and the vCPU loop.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "aarch64|arm64")
class Aarch64BootTest {
    private static final long BOOT_LIMIT_MINUTES = 10;
    /** Kernel log lines that mean something is wrong with what Nimbus gave the guest. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "WARNING:|\\bBUG\\b|Unable to handle|GIC.*([Ee]rror|[Ff]ail|[Ii]nvalid)|([Ee]rror|[Ff]ail).*GIC"
                    + "|(?i:\\bof:.*(error|fail|bad|invalid|missing|cannot))"
                    + "|(?i:\\bITS\\b.*(error|fail|invalid|cannot|unable|no\\s))"
                    + "|(?i:\\bpci.*(error|fail|invalid|cannot|can't|unable|no msi|conflict|bad))");
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("aarch64");
    }

    private static List<String> args(String test, String... extra) {
        return E2eGuest.serialGuestArgs(images, images.get("kernel.image"), test, extra);
    }

    @Test
    void imageBootsToUserSpaceWithTwoVcpusAndACleanLog() throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start(args("facts", "--cpus", "boot=2", "--memory", "size=512M").toArray(String[]::new))) {
            List<String> out = E2eGuest.factsOfTwoVcpus(nimbus, BOOT_LIMIT_MINUTES, BAD_LOG_LINE);
            String transcript = nimbus.transcript();
            List<String> log = E2eGuest.kernelLog(out);
            assertThat(log).as("kernel log").anyMatch(l -> l.contains("Machine model: Nimbus virtual machine"));
            assertThat(log).as("kernel log").anyMatch(l -> l.contains("GICv3"));
            assertThat(log).as("kernel log: the ITS from the device tree, at its address").anyMatch(l -> l.contains("ITS@0x0000000008080000"));
            assertThat(log).as("kernel log: the generic ECAM host bridge probed").anyMatch(l -> l.contains("pci-host-generic 3f000000.pcie"));
            // lspci -n: the host bridge (QEMU's generic PCIe host bridge IDs, class 0x060000) at 00:00.0
            assertThat(out).as(transcript).contains("PCI-FUNCTION 0000:00:00.0 0x1b36 0x0008 0x060000");
        }
    }

    @Test
    void guestRebootBuildsTheMachineAgainOnce() throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start(args("reboot").toArray(String[]::new))) {
            E2eGuest.rebootsOnceThenPowersOff(nimbus, BOOT_LIMIT_MINUTES);
        }
    }

    @Test
    void theLauncherRunsTheDemoGuestOnAJavaRuntimeAlone() throws Exception {
        E2eGuest.demoGuestThroughTheLauncher(images, BOOT_LIMIT_MINUTES, BAD_LOG_LINE);
    }

    @Test
    void aFileThatIsNotAKernelIsBadInput(@TempDir Path dir) throws Exception {
        Path notKernel = Files.writeString(dir.resolve("notes.txt"), "this is not a kernel\n".repeat(100));
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", notKernel.toString(), "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).contains(notKernel.toString()).contains("not an arm64 Image");
        }
    }
}
