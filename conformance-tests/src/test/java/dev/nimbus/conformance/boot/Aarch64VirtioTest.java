package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's arm64 kernel on Nimbus's virtio devices over PCI, end to end on KVM ({@link E2eVirtio}, the same
 * checks as on x86-64): the generic ECAM host bridge from the device tree, every MSI-X vector through the
 * GICv3 ITS (the device id is the requester ID, as the tree's msi-map says); root on virtio-blk with the
 * guest's file read back on the host, a read-only disk, virtio-rng; virtio-net on a tap Nimbus creates
 * inside the L1 guest ({@link E2eNetwork}): ping both ways, TCP both ways.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "aarch64|arm64")
class Aarch64VirtioTest {
    /** Kernel log lines that say the virtio, PCI, MSI or GIC set-up Nimbus gave the guest is wrong. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "(?i:(virtio|pci|msi|\\bITS\\b|vd[a-z]).*(error|fail|invalid|timed? ?out|bad\\b|unable))|\\bBUG\\b|WARNING:|Unable to handle"
                    + "|GIC.*([Ee]rror|[Ff]ail|[Ii]nvalid)");
    private static E2eVirtio e2e;

    @BeforeAll
    static void images() throws Exception {
        e2e = new E2eVirtio(GuestImages.forArch("aarch64"), "kernel.image", 10, BAD_LOG_LINE, 2);
    }

    @Test
    void rootOnVirtioBlkWithMsisThroughTheItsReachesTheHostDiskAndTheReadOnlyDiskAndRngWork(@TempDir Path dir) throws Exception {
        List<String> log = E2eGuest.kernelLog(e2e.diskAndRng(dir));
        assertThat(log).as("kernel log").anyMatch(l -> l.contains("ITS@0x0000000008080000"));
    }

    @Test
    void virtioNetCarriesPingAndTcpBothWaysWithTheConfiguredMac(@TempDir Path dir) throws Exception {
        // 16 MiB to the guest (64 MiB on x86-64): the AArch64 L1 emulates more slowly
        e2e.net(dir, "52:54:00:4e:42:02", 16 << 20);
    }
}
