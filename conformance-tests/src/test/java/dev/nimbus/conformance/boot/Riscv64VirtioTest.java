package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's riscv64 kernel on Nimbus's virtio devices over PCI, end to end on KVM ({@link E2eVirtio}, the same
 * checks as on x86-64 and AArch64): root on virtio-blk with the guest's file read back on the host, a read-only
 * disk, virtio-rng; virtio-net on a tap Nimbus creates inside the L1 guest ({@link E2eNetwork}): ping both ways,
 * TCP both ways. Every MSI-X vector of the virtio functions is an interrupt of the IMSIC's PCI MSI domain,
 * delivered by KVM through irqfd and GSI routes to the target hart's interrupt file.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "riscv64")
class Riscv64VirtioTest {
    /** Kernel log lines that say the virtio, PCI, MSI or AIA set-up Nimbus gave the guest is wrong. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "(?i:(virtio|pci|msi|imsic|aplic|vd[a-z]).*(error|fail|invalid|timed? ?out|bad\\b|unable))|\\bBUG\\b|WARNING:|Oops|Unable to handle");
    private static final Pattern ADDRESS = Pattern.compile("address 0x([0-9a-f]+)");
    private static E2eVirtio e2e;

    @BeforeAll
    static void images() throws Exception {
        e2e = new E2eVirtio(GuestImages.forArch("riscv64"), "kernel.image", 10, BAD_LOG_LINE, 2);
    }

    @Test
    void rootOnVirtioBlkWithMsisThroughTheImsicReachesTheHostDiskAndTheReadOnlyDiskAndRngWork(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("nimbus.log");
        List<String> out = e2e.diskAndRng(dir, "-vv", "--log-file", log.toString());
        // the guest: every virtio vector is an MSI-X interrupt (the IMSIC is the tree's only MSI controller) and
        // the disks' and the rng's queues took some
        List<String> virtio = out.stream().filter(l -> l.startsWith("INTR ") && l.contains("virtio")).toList();
        assertThat(virtio).as("the guest's virtio interrupts:%n%s", String.join("\n", out)).hasSize(6)
                .allMatch(l -> l.contains("PCI-MSIX-0000:00:0"), "an MSI-X vector of a virtio function");
        for (String queue : List.of("virtio0-req", "virtio1-req", "virtio2-input")) {
            assertThat(virtio).as("%s's interrupts were delivered", queue).anyMatch(l -> l.contains(queue) && E2eVirtio.interruptCount(l) > 0);
        }
        // the VMM: each vector the guest programmed (the queues'; a config vector stays masked until used) is a
        // message to a hart's IMSIC interrupt file (one 4 KiB page per hart from 0x28000000), routed through irqfd
        List<String> routes = Files.readAllLines(log).stream().filter(l -> l.contains("MSI-X vector")).toList();
        assertThat(routes).as("the MSI-X routes the guest programmed").hasSizeGreaterThanOrEqualTo(3);
        for (String route : routes) {
            Matcher m = ADDRESS.matcher(route);
            assertThat(m.find()).as(route).isTrue();
            long address = Long.parseLong(m.group(1), 16);
            assertThat(address).as(route).isIn(0x2800_0000L, 0x2800_1000L);
        }
    }

    @Test
    void theGuestsShellRunsOnTheVirtioConsoleWithTheDefaultConsoleOptions(@TempDir Path dir) throws Exception {
        e2e.shellOnTheVirtioConsole(dir);
    }

    @Test
    void virtioNetCarriesPingAndTcpBothWaysWithTheConfiguredMac(@TempDir Path dir) throws Exception {
        // 16 MiB to the guest, as on AArch64: the riscv64 L1 emulates more slowly than x86-64's
        e2e.net(dir, "52:54:00:4e:42:03", 16 << 20);
    }
}
