package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's own riscv64 kernel booted by Nimbus on KVM, end to end: the RISC-V Image boot protocol, the
 * device tree with each hart's ISA as its vCPU reports it, KVM's in-kernel AIA (the IMSIC per hart, the
 * APLIC in MSI mode for the wired UART and RTC), SBI (the second hart through HSM, power-off and reboot
 * through SRST), the ns16550a console, the Goldfish RTC, the generic ECAM host bridge and the vCPU loop.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "riscv64")
class Riscv64BootTest {
    private static final long BOOT_LIMIT_MINUTES = 10;
    /** Kernel log lines that mean something is wrong with what Nimbus gave the guest. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "WARNING:|\\bBUG\\b|Oops|Unable to handle|No interrupt controller"
                    + "|(?i:\\bof:.*(error|fail|bad|invalid|missing|cannot))"
                    + "|(?i:(imsic|aplic|intc).*(error|fail|invalid|cannot|unable))"
                    + "|(?i:irq.*(error|fail|invalid|unable|nobody cared|spurious))"
                    + "|(?i:\\bpci.*(error|fail|invalid|cannot|can't|unable|no msi|conflict|bad))");
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("riscv64");
    }

    private static List<String> args(String test, String... extra) {
        return E2eGuest.serialGuestArgs(images, images.get("kernel.image"), test, extra);
    }

    @Test
    void imageBootsToUserSpaceWithTwoHartsAndACleanLog() throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start(args("facts", "--cpus", "boot=2", "--memory", "size=512M").toArray(String[]::new))) {
            List<String> out = E2eGuest.factsOfTwoVcpus(nimbus, BOOT_LIMIT_MINUTES, BAD_LOG_LINE);
            String transcript = nimbus.transcript();
            // the ISA in the tree is what KVM reported for the vCPU: Sstc and Zicbom come from its one-reg
            // registers (the tree Nimbus writes without a vCPU has neither), H is never given to a guest
            String isa = out.stream().filter(l -> l.startsWith("CPU-ISA=")).findFirst().orElseThrow(() -> new AssertionError(transcript));
            assertThat(isa).as(transcript).startsWith("CPU-ISA=rv64imafdc").contains("_sstc").contains("_zicbom").doesNotContain("h_");
            List<String> log = E2eGuest.kernelLog(out);
            assertThat(log).as("kernel log").anyMatch(l -> l.contains("Machine model: Nimbus virtual machine"));
            assertThat(log).as("kernel log: the second hart started through SBI HSM").anyMatch(l -> l.contains("smp: Brought up 1 node, 2 CPUs"));
            assertThat(log).as("kernel log: the IMSIC from the device tree").anyMatch(l -> l.contains("riscv-imsic: interrupt-controller@28000000: per-CPU IDs 255"));
            assertThat(log).as("kernel log: the APLIC in MSI mode").anyMatch(l -> l.contains("riscv-aplic d000000.interrupt-controller: 96 interrupts forwarded to MSI"));
            assertThat(log).as("kernel log: the ns16550a").anyMatch(l -> l.contains("10000000.serial: ttyS0 at MMIO 0x10000000") && l.contains("16550A"));
            assertThat(log).as("kernel log: the Goldfish RTC").anyMatch(l -> l.contains("goldfish_rtc 101000.rtc: registered as rtc0"));
            assertThat(log).as("kernel log: the generic ECAM host bridge probed").anyMatch(l -> l.contains("pci-host-generic 30000000.pcie: ECAM at"));
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
        // the guest of ./nimbus demo, with the demo's machine (its script once oopsed the riscv64 kernel through /dev/port)
        E2eGuest.demoGuestThroughTheLauncher(images, BOOT_LIMIT_MINUTES, BAD_LOG_LINE);
    }

    @Test
    void aFileThatIsNotAKernelIsBadInput(@TempDir Path dir) throws Exception {
        Path notKernel = Files.writeString(dir.resolve("notes.txt"), "this is not a kernel\n".repeat(100));
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", notKernel.toString(), "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).contains(notKernel.toString(), "not a riscv64 Image");
        }
    }

    @Test
    void anInitramfsThatDoesNotFitIsBadInput(@TempDir Path dir) throws Exception {
        // sparse: 600 MiB of nothing for a 512 MiB machine
        Path big = dir.resolve("big.cpio");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(600L << 20);
        }
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get("kernel.image"), "--initramfs", big.toString(),
                "--memory", "size=512M", "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).contains(big.toString(), "do not fit in RAM");
        }
    }

    @Test
    void tooManyVcpusIsBadInput() throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get("kernel.image"), "--cpus", "boot=256", "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).contains("--cpus", "boot");
        }
    }
}
