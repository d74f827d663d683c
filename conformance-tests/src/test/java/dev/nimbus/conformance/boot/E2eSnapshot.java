package dev.nimbus.conformance.boot;

import dev.nimbus.host.net.Tap;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Snapshot and restore end to end, the same on every architecture: a guest with its root on virtio-blk,
 * virtio-net on a tap, and its serial console on the VMM's standard output runs a counter that prints and
 * writes to its disk ({@code nimbus.test=snapshot} of {@code conformance-tests/l1/guest/e2e-script}). It is
 * paused, snapshotted through the REST API and its VMM killed; the disk image is copied beside the snapshot,
 * as an operator keeps a disk with its snapshot. Then, twice from that one snapshot, a new VMM restores it
 * (once through {@code --restore} and {@code vm.resume}, once with {@code resume=on} and no API): the count
 * goes on from where it stopped, the guest's uptime goes on from where it was (the time the VMM was gone is
 * not seen), ping answers, the counter's file on the disk holds every count once, in order, and e2fsck finds
 * the disk clean. (Bad snapshots, refused before any VM is made, are tested on the host: RestoreCommandLineTest
 * and SnapshotTest in vmm.)
 *
 * <p>The tap is made before the first VMM ({@code ip tuntap}), so it outlives the killed VMM, as an operator's
 * tap does; a restore refuses a named tap that is missing. Traffic stays inside the L1 guest.
 */
final class E2eSnapshot {
    static final String TAP = "nimbus-snap0";
    static final String HOST_IP = "192.168.250.1";
    static final String GUEST_IP = "192.168.250.2";
    /** Connecting to this port of the guest stops its counter and makes its root file system read-only. */
    static final int STOP_PORT = 7000;
    private static final Pattern COUNT = Pattern.compile("COUNT ([0-9]+) UPTIME ([0-9.]+)");
    /**
     * At least this long passes between the pause and the start of a restoring VMM: a guest clock that ran on
     * while no VMM held the guest would show it.
     */
    private static final long AWAY_SECONDS = 10;

    private final GuestImages images;
    private final String kernelKey;
    private final long limitMinutes;
    private final int vcpus;

    E2eSnapshot(GuestImages images, String kernelKey, long limitMinutes, int vcpus) {
        this.images = images;
        this.kernelKey = kernelKey;
        this.limitMinutes = limitMinutes;
        this.vcpus = vcpus;
    }

    /** One line of the guest's counter: the count and the guest's uptime in seconds. */
    record Count(long n, double uptime) {}

    /** The complete counter lines of {@code output}, in order. */
    static List<Count> counts(List<String> output) {
        List<Count> out = new ArrayList<>();
        for (String l : output) {
            Matcher m = COUNT.matcher(l);
            if (m.matches()) {
                out.add(new Count(Long.parseLong(m.group(1)), Double.parseDouble(m.group(2))));
            }
        }
        return out;
    }

    /** The times the run measured, for docs/performance.md: a cold boot and each restore, to the first count. */
    record Times(long coldBootMillis, List<Long> restoreMillis) {}

    Times run(Path dir) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
        Path kept = dir.resolve("root-at-snapshot.ext4");
        Path snapshot = dir.resolve("snap");
        String snapshotUrl = snapshot.toUri().toString();
        makeTap();
        try {
            long coldBoot;
            Count last;
            Path socket = dir.resolve("api1.sock");
            long start = System.nanoTime();
            try (NimbusProcess vmm = NimbusProcess.start("--api-socket", "path=" + socket, "--kernel", images.get(kernelKey),
                    "--initramfs", images.get("initramfs.virtio"),
                    "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=snapshot",
                    "--cpus", "boot=" + vcpus, "--memory", "size=512M", "--serial", "tty", "--console", "off",
                    "--disk", "path=" + root, "--net", "tap=" + TAP + ",ip=" + HOST_IP + ",mask=255.255.255.0")) {
                assertThat(vmm.awaitLines(l -> COUNT.matcher(l).matches(), 1, limitMinutes, TimeUnit.MINUTES))
                        .as("the guest counts; output:%n%s", vmm.transcript()).isTrue();
                coldBoot = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(vmm.awaitLines(l -> COUNT.matcher(l).matches(), 10, limitMinutes, TimeUnit.MINUTES)).as(vmm.transcript()).isTrue();
                assertThat(InetAddress.getByName(GUEST_IP).isReachable(5000)).as("ping before the snapshot; %s", vmm.transcript()).isTrue();

                Remote running = remote(socket, "snapshot", snapshotUrl);
                assertThat(running.exit()).as("a snapshot of a running VM is refused: %s", running).isEqualTo(1);
                assertThat(running.err()).contains("MethodNotAllowed", "vm.snapshot: the VM is Running, not Paused");
                assertThat(snapshot.resolve("snapshot.json")).doesNotExist();

                assertThat(remote(socket, "pause").exit()).isZero();
                pausedAt = System.nanoTime();
                Thread.sleep(500); // the console's flusher
                Remote saved = remote(socket, "snapshot", snapshotUrl);
                assertThat(saved.exit()).as("vm.snapshot: %s%n%s", saved, vmm.transcript()).isZero();
                assertThat(remote(socket, "info").out()).contains("\"state\":\"Paused\"");
                Files.copy(root, kept);
                last = counts(vmm.output()).getLast();
                // killed, not shut down: nothing of this VMM is needed to restore
                vmm.close();
                assertThat(vmm.awaitExit(1, TimeUnit.MINUTES)).isNotZero();
            }
            assertThat(snapshot.resolve("snapshot.json")).exists();

            List<Long> restores = new ArrayList<>();
            restores.add(restoreThroughTheApi(dir, root, kept, snapshotUrl, last));
            restores.add(restoreAndResume(root, kept, snapshotUrl, last));

            return new Times(coldBoot, restores);
        } finally {
            deleteTap();
        }
    }

    /** {@code --restore} with the API: paused until vm.resume; the time from the VMM's start to vm.info saying Paused. */
    private long restoreThroughTheApi(Path dir, Path root, Path kept, String snapshotUrl, Count last) throws Exception {
        Files.copy(kept, root, StandardCopyOption.REPLACE_EXISTING);
        Path socket = dir.resolve("api2.sock");
        awayLongEnough();
        long start = System.nanoTime();
        restoreStartedAt = start;
        try (NimbusProcess vmm = NimbusProcess.start("--api-socket", "path=" + socket, "--restore", "source_url=" + snapshotUrl)) {
            String info = "";
            for (int i = 0; i < 1200 && !info.contains("\"state\""); i++) {
                Thread.sleep(100);
                info = Files.exists(socket) ? remote(socket, "info").out() : "";
            }
            assertThat(info).as("the restored VM comes up paused; %s", vmm.transcript()).contains("\"state\":\"Paused\"");
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            Thread.sleep(1000);
            assertThat(counts(vmm.output())).as("nothing runs while paused").isEmpty();
            assertThat(remote(socket, "resume").exit()).isZero();
            checkRestoredGuest(vmm, root, last);
            assertThat(remote(socket, "shutdown-vmm").exit()).isZero();
            assertThat(vmm.awaitExit(limitMinutes, TimeUnit.MINUTES)).as(vmm.transcript()).isZero();
            assertClean(root);
            return millis;
        }
    }

    /** {@code --restore ...,resume=on} without an API: the time from the VMM's start to the guest's first count. */
    private long restoreAndResume(Path root, Path kept, String snapshotUrl, Count last) throws Exception {
        Files.copy(kept, root, StandardCopyOption.REPLACE_EXISTING);
        awayLongEnough();
        long start = System.nanoTime();
        restoreStartedAt = start;
        try (NimbusProcess vmm = NimbusProcess.start("--restore", "source_url=" + snapshotUrl + ",resume=on")) {
            checkRestoredGuest(vmm, root, last);
            long firstCount = firstCountNanos;
            assertThat(vmm.awaitExit(limitMinutes, TimeUnit.MINUTES)).as("the guest powers off, the VMM ends; %s", vmm.transcript())
                    .isZero();
            assertClean(root);
            return TimeUnit.NANOSECONDS.toMillis(firstCount - start);
        }
    }

    private long firstCountNanos;
    private long pausedAt;
    private long restoreStartedAt;

    /** Waits until the guest has been paused for {@link #AWAY_SECONDS}. */
    private void awayLongEnough() throws InterruptedException {
        long left = pausedAt + TimeUnit.SECONDS.toNanos(AWAY_SECONDS) - System.nanoTime();
        if (left > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    /**
     * The restored guest: its count goes on from the snapshot's, its uptime from the snapshot's, ping answers;
     * then it is stopped and its counter file read back from the disk. Returns when the guest has made its root
     * file system read-only.
     */
    private void checkRestoredGuest(NimbusProcess vmm, Path root, Count last) throws Exception {
        assertThat(vmm.awaitLines(l -> COUNT.matcher(l).matches(), 1, limitMinutes, TimeUnit.MINUTES))
                .as("the restored guest counts; output:%n%s", vmm.transcript()).isTrue();
        firstCountNanos = System.nanoTime();
        assertThat(vmm.awaitLines(l -> COUNT.matcher(l).matches(), 5, limitMinutes, TimeUnit.MINUTES)).as(vmm.transcript()).isTrue();
        List<Count> after = counts(vmm.output());
        Count first = after.getFirst();
        // the next count, or the one after when the snapshot caught a line half written to the UART
        assertThat(first.n()).as("the count goes on from %s (not from 1); output:%n%s", last, vmm.transcript())
                .isBetween(last.n() + 1, last.n() + 2);
        for (int i = 1; i < after.size(); i++) {
            assertThat(after.get(i).n()).as("counts in order").isEqualTo(after.get(i - 1).n() + 1);
        }
        double gap = first.uptime() - last.uptime();
        double away = (restoreStartedAt - pausedAt) / 1e9;
        double restoring = (firstCountNanos - restoreStartedAt) / 1e9;
        System.out.printf("SNAPSHOT-RESTORED last saved %s, first restored %s (uptime +%.2f s; %.1f s from the pause to the"
                + " restoring VMM's start, %.1f s from there to this count)%n", last, first, gap,
                (restoreStartedAt - pausedAt) / 1e9, (firstCountNanos - restoreStartedAt) / 1e9);
        // the guest sees at most the restoring VMM's own time (on AArch64 the counter runs from the moment the
        // vCPU has its state back, paused or not), never the time between the pause and the restore
        assertThat(gap).as("the guest's uptime goes on from %s s: %s s at %s; %.1f s passed from the pause to the restoring "
                + "VMM's start, %.1f s from there to this count", last.uptime(), first.uptime(), first, away, restoring)
                .isBetween(0.0, restoring + 1.0);
        assertThat(InetAddress.getByName(GUEST_IP).isReachable(5000)).as("ping after the restore; %s", vmm.transcript()).isTrue();

        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(GUEST_IP, STOP_PORT), 10_000);
        }
        assertThat(vmm.awaitLines("ROOT-READ-ONLY"::equals, 1, limitMinutes, TimeUnit.MINUTES)).as(vmm.transcript()).isTrue();
        String stopped = vmm.output().stream().filter(l -> l.startsWith("COUNTER-STOPPED AT ")).findFirst().orElseThrow();
        long at = Long.parseLong(stopped.replaceAll("COUNTER-STOPPED AT ([0-9]+),.*", "$1"));
        assertThat(stopped).as("every count reached the log once").isEqualTo("COUNTER-STOPPED AT " + at + ", LOGGED " + at);
        assertThat(vmm.awaitLines("NIMBUS-GUEST-EXIT=0"::equals, 1, limitMinutes, TimeUnit.MINUTES)).as(vmm.transcript()).isTrue();
        // the counter's file on the disk: 1 to the last count, each once, in order: the snapshot's disk and memory agree
        List<String> log = debugfsCat(root, "/counter.log");
        assertThat(log).hasSize((int) at);
        for (int i = 0; i < log.size(); i++) {
            assertThat(log.get(i)).as("line %d of /counter.log", i + 1).isEqualTo(Long.toString(i + 1));
        }
    }

    private static void assertClean(Path image) throws Exception {
        Process p = new ProcessBuilder("e2fsck", "-fn", image.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("e2fsck -fn %s:%n%s", image, out).isZero();
    }

    private static List<String> debugfsCat(Path image, String file) throws Exception {
        Process p = new ProcessBuilder("debugfs", "-R", "cat " + file, image.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).isZero();
        return out.lines().toList();
    }

    /** The operator's tap: made persistent, as {@code ip tuntap add} makes one (the AArch64 L1 has no {@code ip}). */
    private static void makeTap() {
        deleteTap();
        try (Tap tap = Tap.open(TAP)) {
            tap.persist(true);
        }
    }

    private static void deleteTap() {
        if (Files.exists(Path.of("/sys/class/net", TAP))) {
            try (Tap tap = Tap.open(TAP)) {
                tap.persist(false);
            }
        }
    }

    /** What nimbus-remote printed and its exit code. */
    record Remote(int exit, String out, String err) {}

    /** nimbus-remote in this JVM. */
    static Remote remote(Path socket, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("--api-socket", socket.toString()));
        all.addAll(List.of(args));
        int exit = dev.nimbus.vmm.remote.RemoteMain.run(all.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(err, true));
        return new Remote(exit, out.toString(), err.toString());
    }
}
