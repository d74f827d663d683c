package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's x86-64 kernel on Nimbus's virtio devices over PCI, end to end on KVM: its root file system on
 * a virtio-blk disk (an ext4 image made with {@code mke2fs -d}), a second disk read-only, virtio-rng; what
 * the guest writes and syncs is read back out of the image on the host with {@code debugfs}. virtio-net on
 * a tap that Nimbus creates inside the L1 guest ({@link E2eNetwork}; L1 has no network card, so the traffic stays there):
 * ping both ways and 64 MiB over TCP each way, checksummed on both ends. The guest's shell on hvc0.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class X86VirtioTest {
    private static final long BOOT_LIMIT_MINUTES = 8;
    /** Kernel log lines that say the virtio or PCI set-up Nimbus gave the guest is wrong. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "(?i:(virtio|pci|msi|vd[a-z]).*(error|fail|invalid|timed? ?out|bad\\b))|\\bBUG\\b|WARNING:|ACPI Error|ACPI BIOS Error");
    private static final byte[] DATA_DISK_HEAD = "NIMBUS-DATA-DISK-0123456789abcde".getBytes(StandardCharsets.US_ASCII);
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
    }

    @Test
    void rootOnVirtioBlkReachesTheHostDiskAndTheReadOnlyDiskAndRngWork(@TempDir Path dir) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
        byte[] data = Arrays.copyOf(DATA_DISK_HEAD, 1 << 20);
        Path dataDisk = Files.write(dir.resolve("data.raw"), data);
        String token = UUID.randomUUID().toString().replace("-", "");

        List<String> args = new ArrayList<>(List.of("--kernel", images.get("kernel.bzimage"),
                "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=virtio nimbus.token=" + token,
                "--cpus", "boot=2", "--memory", "size=512M", "--serial", "tty", "--console", "off",
                "--disk", "path=" + root, "path=" + dataDisk + ",readonly=on,id=data",
                "--rng", "src=/dev/urandom"));
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            int exit = nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES);
            List<String> out = nimbus.output();
            String transcript = nimbus.transcript();
            assertThat(exit).as("nimbus exit code after the guest's poweroff; output:%n%s", transcript).isZero();
            assertThat(out).as(transcript).contains("NIMBUS-INITRAMFS-UP", "NIMBUS-E2E-UP", "E2E-TEST=virtio",
                    "ROOT=/dev/vda ext4", "WROTE=" + token, "VDB-RO=1", "VDB-SERIAL=data",
                    "VDB-HEAD=" + new String(DATA_DISK_HEAD, StandardCharsets.US_ASCII), "VDB-WRITE=refused",
                    "RNG-CURRENT=virtio_rng.0", "RNG-BYTES=64", "NIMBUS-GUEST-EXIT=0");
            assertThat(out).as("virtio functions bound by virtio-pci: %n%s", transcript)
                    .contains("PCI 0000:00:01.0 0x1af4:0x1042 driver=virtio-pci", "PCI 0000:00:02.0 0x1af4:0x1042 driver=virtio-pci",
                            "PCI 0000:00:03.0 0x1af4:0x1044 driver=virtio-pci");
            List<String> log = E2eGuest.kernelLog(out);
            assertThat(log).as("kernel log").anyMatch(l -> l.contains("[vda]")).anyMatch(l -> l.contains("[vdb]"));
            assertThat(log).as("kernel log lines that point at a fault in the devices").noneMatch(l -> BAD_LOG_LINE.matcher(l).find());
        }
        assertThat(debugfsCat(root, "/hello.txt")).as("the file the guest wrote and synced, read on the host")
                .isEqualTo("written by the guest: " + token + "\n");
        assertThat(Files.readAllBytes(dataDisk)).as("the read-only disk is untouched").isEqualTo(data);
    }

    @Test
    void virtioNetCarriesPingAndTcpBothWaysWithTheConfiguredMac(@TempDir Path dir) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
        String mac = "52:54:00:4e:42:01";
        List<String> args = List.of("--kernel", images.get("kernel.bzimage"), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=net",
                "--cpus", "boot=2", "--memory", "size=512M", "--serial", "tty", "--console", "off",
                "--disk", "path=" + root,
                "--net", "tap=nimbus-e2e0,ip=" + E2eNetwork.HOST_IP + ",mask=255.255.255.0,mac=" + mac);
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            assertThat(nimbus.awaitLines("NET-LISTENING"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as("the guest's network came up; output:%n%s", nimbus.transcript()).isTrue();
            assertThat(InetAddress.getByName(E2eNetwork.GUEST_IP).isReachable(5000)).as("the guest answers the host's ping (ICMP echo, as root)").isTrue();

            byte[] sent = E2eNetwork.sendToGuest(64 << 20);
            assertThat(nimbus.awaitLines(l -> l.startsWith("TX-SHA256="), 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
            byte[] received = E2eNetwork.receiveFromGuest(E2eNetwork.GUEST_SENDS, () -> nimbus.type("go"));
            int exit = nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES);
            List<String> out = nimbus.output();
            String transcript = nimbus.transcript();
            assertThat(exit).as("nimbus exit code; output:%n%s", transcript).isZero();
            assertThat(out).as(transcript).contains("E2E-TEST=net", "GUEST-MAC=" + mac, "PING-HOST=ok",
                    "RX-SHA256=" + HexFormat.of().formatHex(sent), "TX-SHA256=" + HexFormat.of().formatHex(received),
                    "TX-DONE", "NIMBUS-GUEST-EXIT=0");
            List<String> log = E2eGuest.kernelLog(out);
            assertThat(log).as("kernel log").anyMatch(l -> l.contains("virtio-pci 0000:00:02.0: enabling device"));
            assertThat(log).as("kernel log lines that point at a fault in the devices").noneMatch(l -> BAD_LOG_LINE.matcher(l).find());
        }
    }

    @Test
    void theGuestsShellRunsOnTheVirtioConsole(@TempDir Path dir) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
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

    /** {@code debugfs -R "cat PATH" IMAGE}: a file of an ext4 image, read without mounting it. */
    private static String debugfsCat(Path image, String path) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("debugfs", "-R", "cat " + path, image.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String content = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as("debugfs exit code").isZero();
        return content;
    }
}
