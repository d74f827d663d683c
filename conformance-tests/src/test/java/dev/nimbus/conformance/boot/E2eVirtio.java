package dev.nimbus.conformance.boot;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The end-to-end virtio checks every architecture runs, on that architecture's kernel ({@code kernelKey} of
 * {@link GuestImages}): the root file system on virtio-blk with the guest's file read back on the host, a
 * read-only disk, virtio-rng; virtio-net on a tap with ping and TCP both ways. Each architecture's test
 * ({@link X86VirtioTest}, {@link Aarch64VirtioTest}) adds what is its own: the kernel log's interrupt
 * controller lines, the console.
 */
final class E2eVirtio {
    private static final byte[] DATA_DISK_HEAD = "NIMBUS-DATA-DISK-0123456789abcde".getBytes(StandardCharsets.US_ASCII);

    private final GuestImages images;
    private final String kernelKey;
    private final long bootLimitMinutes;
    private final Pattern badLogLine;

    private final int vcpus;

    /**
     * {@code badLogLine}: kernel log lines that say the virtio, PCI or interrupt set-up Nimbus gave is wrong.
     * {@code vcpus}: the guests' vCPUs. The x86-64 tests give one: their L1 has one vCPU (see run-in-l1), and
     * a nested guest with two vCPUs on it sometimes froze the whole L1 under TCG (a guest vCPU spinning with
     * interrupts off while L1 never got control back, 2026-12-03). X86BootTest keeps the two-vCPU boots;
     * AArch64's L1 has two vCPUs and its guests two.
     */
    E2eVirtio(GuestImages images, String kernelKey, long bootLimitMinutes, Pattern badLogLine, int vcpus) {
        this.vcpus = vcpus;
        this.images = images;
        this.kernelKey = kernelKey;
        this.bootLimitMinutes = bootLimitMinutes;
        this.badLogLine = badLogLine;
    }

    /** A copy of the test root file system in {@code dir}. */
    Path root(Path dir) throws IOException {
        return Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
    }

    /**
     * Root on virtio-blk, the guest writes and syncs a file the host then reads out of the image; a read-only
     * second disk refuses writes and stays unchanged; /dev/hwrng is virtio-rng; {@code moreArgs} go to nimbus
     * too. Returns the guest's output (its
     * kernel log: {@link E2eGuest#kernelLog}; its virtio interrupts: the lines starting "INTR "), for the
     * architecture's own checks.
     */
    List<String> diskAndRng(Path dir, String... moreArgs) throws Exception {
        Path root = root(dir);
        byte[] data = Arrays.copyOf(DATA_DISK_HEAD, 1 << 20);
        Path dataDisk = Files.write(dir.resolve("data.raw"), data);
        // digits only: a hex token once spelt "bad" on the kernel command line, which the bad-log pattern caught
        String token = Long.toUnsignedString(new java.security.SecureRandom().nextLong());
        List<String> out;
        List<String> args = new ArrayList<>(List.of("--kernel", images.get(kernelKey),
                "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=virtio nimbus.token=" + token,
                "--cpus", "boot=" + vcpus, "--memory", "size=512M", "--serial", "tty", "--console", "off",
                "--disk", "path=" + root, "path=" + dataDisk + ",readonly=on,id=data",
                "--rng", "src=/dev/urandom"));
        args.addAll(List.of(moreArgs));
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            int exit = nimbus.awaitExit(bootLimitMinutes, TimeUnit.MINUTES);
            out = nimbus.output();
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
            assertCleanLog(log);
        }
        assertThat(debugfsCat(root, "/hello.txt")).as("the file the guest wrote and synced, read on the host")
                .isEqualTo("written by the guest: " + token + "\n");
        assertThat(Files.readAllBytes(dataDisk)).as("the read-only disk is untouched").isEqualTo(data);
        return out;
    }

    /**
     * The interrupts a line of the guest's /proc/interrupts (as the script prints it: "INTR " then the line)
     * counted, over every CPU.
     */
    static long interruptCount(String intrLine) {
        String[] fields = intrLine.substring("INTR ".length()).strip().split("\\s+");
        long total = 0;
        for (int i = 1; i < fields.length && fields[i].matches("[0-9]+"); i++) {
            total += Long.parseLong(fields[i]);
        }
        return total;
    }

    /**
     * virtio-net on a tap Nimbus creates ({@link E2eNetwork}): the host pings the guest and the guest the host,
     * {@code toGuest} bytes go to the guest and the guest's bytes come back, checksummed on both ends, and the
     * guest's MAC is {@code mac}. Returns the guest's output, for the architecture's own checks.
     */
    List<String> net(Path dir, String mac, int toGuest) throws Exception {
        Path root = root(dir);
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get(kernelKey),
                "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=net",
                "--cpus", "boot=" + vcpus, "--memory", "size=512M", "--serial", "tty", "--console", "off",
                "--disk", "path=" + root,
                "--net", "tap=nimbus-e2e0,ip=" + E2eNetwork.HOST_IP + ",mask=255.255.255.0,mac=" + mac)) {
            assertThat(nimbus.awaitLines("NET-LISTENING"::equals, 1, bootLimitMinutes, TimeUnit.MINUTES))
                    .as("the guest's network came up; output:%n%s", nimbus.transcript()).isTrue();
            assertThat(InetAddress.getByName(E2eNetwork.GUEST_IP).isReachable(5000))
                    .as("the guest answers the host's ping (ICMP echo, as root); output:%n%s", nimbus.transcript()).isTrue();

            byte[] sent = E2eNetwork.sendToGuest(toGuest);
            assertThat(nimbus.awaitLines(l -> l.startsWith("TX-SHA256="), 1, bootLimitMinutes, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
            byte[] received = E2eNetwork.receiveFromGuest(E2eNetwork.GUEST_SENDS, () -> nimbus.type("go"));
            int exit = nimbus.awaitExit(bootLimitMinutes, TimeUnit.MINUTES);
            List<String> out = nimbus.output();
            String transcript = nimbus.transcript();
            assertThat(exit).as("nimbus exit code; output:%n%s", transcript).isZero();
            assertThat(out).as(transcript).contains("E2E-TEST=net", "GUEST-MAC=" + mac, "PING-HOST=ok",
                    "RX-SHA256=" + HexFormat.of().formatHex(sent), "TX-SHA256=" + HexFormat.of().formatHex(received),
                    "TX-DONE", "NIMBUS-GUEST-EXIT=0");
            assertCleanLog(E2eGuest.kernelLog(out));
            return out;
        }
    }

    /**
     * The guest's shell on the virtio console, with the console options left at their defaults ({@code --console
     * tty}, as Cloud Hypervisor's): booted with {@code console=hvc0}, the guest's script asks for a command there,
     * runs what the test types and powers off; the serial port goes to a file.
     */
    void shellOnTheVirtioConsole(Path dir) throws Exception {
        Path root = root(dir);
        Path serial = dir.resolve("serial.log");
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get(kernelKey), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", "console=hvc0 quiet panic=-1 nimbus.root=/dev/vda nimbus.test=console",
                "--cpus", "boot=" + vcpus, "--memory", "size=512M", "--serial", "file=" + serial, "--disk", "path=" + root)) {
            assertThat(nimbus.awaitLines("ASK-COMMAND"::equals, 1, bootLimitMinutes, TimeUnit.MINUTES))
                    .as("the guest's script asked on the virtio console; output:%n%s", nimbus.transcript()).isTrue();
            nimbus.type("echo HVC-$((6 * 7)) from $(cat /sys/class/tty/console/active)");
            int exit = nimbus.awaitExit(bootLimitMinutes, TimeUnit.MINUTES);
            String transcript = nimbus.transcript();
            assertThat(exit).as("nimbus exit code; output:%n%s", transcript).isZero();
            assertThat(nimbus.output()).as(transcript).contains("CONSOLE-ACTIVE=hvc0", "HVC-42 from hvc0", "NIMBUS-GUEST-EXIT=0");
        }
    }

    void assertCleanLog(List<String> log) {
        assertThat(log).as("kernel log lines that point at a fault in the devices").noneMatch(l -> badLogLine.matcher(l).find());
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
