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
        e2e.shellOnTheVirtioConsole(dir);
    }

    /**
     * {@code --console pty}, as libvirt's {@code virsh console} uses it: the VMM puts the virtio console on a
     * pseudo-terminal, vm.info names it, and a command typed on that pty reaches the guest's shell, whose
     * answer comes back on it.
     */
    @Test
    void theGuestsShellAnswersOnThePtyThatVmInfoReports(@TempDir Path dir) throws Exception {
        Path root = e2e.root(dir);
        Path socket = dir.resolve("api.sock");
        List<String> args = List.of("--api-socket", "path=" + socket, "--kernel", images.get("kernel.bzimage"),
                "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", "console=hvc0 quiet panic=-1 nimbus.root=/dev/vda nimbus.test=console",
                "--memory", "size=512M", "--serial", "null", "--console", "pty", "--disk", "path=" + root);
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            Path pty = null;
            for (int i = 0; i < 600 && pty == null; i++) {
                String info = remote(socket, "info");
                java.util.regex.Matcher m = Pattern.compile("\"console\":\\{\"mode\":\"Pty\",\"file\":\"([^\"]+)\"").matcher(info);
                if (m.find()) {
                    pty = Path.of(m.group(1));
                } else {
                    Thread.sleep(100);
                }
            }
            assertThat(pty).as("vm.info names the console's pty; output:%n%s", nimbus.transcript()).isNotNull();
            StringBuffer seen = new StringBuffer();
            try (java.io.FileInputStream fromGuest = new java.io.FileInputStream(pty.toFile());
                 java.io.FileOutputStream keyboard = new java.io.FileOutputStream(pty.toFile())) {
                Thread reader = Thread.ofPlatform().daemon(true).start(() -> {
                    byte[] buf = new byte[512];
                    try {
                        int n;
                        while ((n = fromGuest.read(buf)) > 0) {
                            seen.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1));
                        }
                    } catch (java.io.IOException closed) {
                        // the pty went with the machine
                    }
                });
                assertThat(awaitText(seen, "ASK-COMMAND")).as("the guest asked on the pty; pty:%n%s%noutput:%n%s", seen,
                        nimbus.transcript()).isTrue();
                keyboard.write("echo PTY-$((6 * 7)) from $(cat /sys/class/tty/console/active)\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                keyboard.flush();
                assertThat(awaitText(seen, "NIMBUS-GUEST-EXIT=0")).as("pty:%n%s", seen).isTrue();
                assertThat(seen.toString()).contains("CONSOLE-ACTIVE=hvc0", "PTY-42 from hvc0");
                reader.interrupt();
            }
            remote(socket, "shutdown-vmm");
            assertThat(nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isZero();
        }
    }

    /** Waits (up to the boot limit) until {@code seen} holds {@code text}. */
    private static boolean awaitText(CharSequence seen, String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(BOOT_LIMIT_MINUTES);
        while (System.nanoTime() < deadline) {
            if (seen.toString().contains(text)) {
                return true;
            }
            Thread.sleep(200);
        }
        return seen.toString().contains(text);
    }

    /** nimbus-remote, in this JVM: the command's standard output (empty when it failed). */
    static String remote(Path socket, String command) {
        java.io.StringWriter out = new java.io.StringWriter();
        dev.nimbus.vmm.remote.RemoteMain.run(new String[] {"--api-socket", socket.toString(), command},
                new java.io.PrintWriter(out, true), new java.io.PrintWriter(java.io.Writer.nullWriter(), true));
        return out.toString();
    }
}
