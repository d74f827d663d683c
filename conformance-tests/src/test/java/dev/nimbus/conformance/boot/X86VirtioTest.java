package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's x86-64 kernel on Nimbus's virtio devices over PCI, end to end on KVM ({@link E2eVirtio}, the same
 * checks as on AArch64): its root file system on a virtio-blk disk (an ext4 image made with {@code mke2fs
 * -d}), a second disk read-only, virtio-rng; what the guest writes and syncs is read back out of the image on
 * the host with {@code debugfs}. virtio-net on a tap that Nimbus creates inside the L1 guest
 * ({@link E2eNetwork}; L1 has no network card, so the traffic stays there): ping both ways and 64 MiB over
 * TCP each way, checksummed on both ends. The guest's shell on hvc0.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class X86VirtioTest {
    private static final long BOOT_LIMIT_MINUTES = 8;
    /** Kernel log lines that say the virtio or PCI set-up Nimbus gave the guest is wrong. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "(?i:(virtio|pci|msi|vd[a-z]).*(error|fail|invalid|timed? ?out|bad\\b))|\\bBUG\\b|WARNING:|ACPI Error|ACPI BIOS Error");
    private static GuestImages images;
    private static E2eVirtio e2e;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
        e2e = new E2eVirtio(images, "kernel.bzimage", BOOT_LIMIT_MINUTES, BAD_LOG_LINE, 1);
    }

    @Test
    void rootOnVirtioBlkReachesTheHostDiskAndTheReadOnlyDiskAndRngWork(@TempDir Path dir) throws Exception {
        e2e.diskAndRng(dir);
    }

    @Test
    void virtioNetCarriesPingAndTcpBothWaysWithTheConfiguredMac(@TempDir Path dir) throws Exception {
        List<String> out = e2e.net(dir, "52:54:00:4e:42:01", 64 << 20);
        assertThat(E2eGuest.kernelLog(out)).as("kernel log").anyMatch(l -> l.contains("virtio-pci 0000:00:02.0: enabling device"));
    }

    @Test
    void theGuestsShellRunsOnTheVirtioConsole(@TempDir Path dir) throws Exception {
        Path root = e2e.root(dir);
        Path serial = dir.resolve("serial.log");
        List<String> args = List.of("--kernel", images.get("kernel.bzimage"), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", "console=hvc0 quiet panic=-1 nimbus.root=/dev/vda nimbus.test=console",
                "--memory", "size=512M", "--serial", "file=" + serial, "--console", "tty", "--disk", "path=" + root);
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            assertThat(nimbus.awaitLines("ASK-COMMAND"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as("the guest's script asked on the virtio console; output:%n%s", nimbus.transcript()).isTrue();
            nimbus.type("echo HVC-$((6 * 7)) from $(cat /sys/class/tty/console/active)");
            int exit = nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES);
            String transcript = nimbus.transcript();
            assertThat(exit).as("nimbus exit code; output:%n%s", transcript).isZero();
            assertThat(nimbus.output()).as(transcript).contains("CONSOLE-ACTIVE=hvc0", "HVC-42 from hvc0", "NIMBUS-GUEST-EXIT=0");
        }
    }
}
