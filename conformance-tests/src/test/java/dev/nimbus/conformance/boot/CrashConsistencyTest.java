package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Data a guest flushed survives the VMM's death: the guest writes a stream to virtio-blk, fsyncing each
 * write (a FLUSH request) before it says so on the serial console, and the test {@code kill -9}s the VMM,
 * once right after the guest reports the whole stream done and once at a random moment in the middle of it.
 * Every block the guest had reported flushed must be in the image, whole; nothing past the last report may
 * be anything but the zeros that were there or the block's own pattern (a write in flight lands or not); the
 * image keeps its size. On an ext4 root the same: after the journal replay a power cut calls for, e2fsck
 * finds the file system clean, and every file synced before the kill reads back whole.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class CrashConsistencyTest {
    private static final long BOOT_LIMIT_MINUTES = 8;
    private static final int BLOCK = 4096;
    private static final int DISK_BLOCKS = 1024;
    private static final Pattern FLUSHED = Pattern.compile("FLUSHED (\\d+)");
    private static final Pattern SYNCED = Pattern.compile("SYNCED (\\d+)");
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
    }

    /** What {@code yes LINE | head -c SIZE} writes: the line and a newline again and again, cut at {@code size}. */
    static byte[] pattern(String line, int size) {
        byte[] unit = (line + "\n").getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[size];
        for (int i = 0; i < size; i++) {
            out[i] = unit[i % unit.length];
        }
        return out;
    }

    /** The highest number {@code p} found in the VMM's output before it died; -1 when none. */
    private static int lastReported(List<String> out, Pattern p) {
        int last = -1;
        for (String line : out) {
            Matcher m = p.matcher(line);
            if (m.matches()) {
                last = Math.max(last, Integer.parseInt(m.group(1)));
            }
        }
        return last;
    }

    /** The stream on {@code disk}, the guest's second disk; its root file system a copy in {@code dir}. */
    private static NimbusProcess startRaw(Path dir, Path disk, String extraCmdline) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
        return NimbusProcess.start("--kernel", images.get("kernel.bzimage"), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=crash" + extraCmdline, "--memory", "size=256M",
                "--serial", "tty", "--console", "off", "--disk", "path=" + root, "path=" + disk);
    }

    private static Path zeroDisk(Path dir) throws Exception {
        Path disk = dir.resolve("stream.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength((long) DISK_BLOCKS * BLOCK);
        }
        return disk;
    }

    /** Kills the VMM with SIGKILL, as {@code kill -9} does, and waits until it is gone. */
    private static List<String> kill(NimbusProcess nimbus) throws Exception {
        nimbus.close();
        assertThat(nimbus.awaitExit(1, TimeUnit.MINUTES)).as("the VMM after SIGKILL").isEqualTo(137);
        return nimbus.output();
    }

    /** Checks the stream's image: blocks up to {@code flushed} whole, the rest zeros or whole, the size unchanged. */
    private static void assertStreamKept(Path disk, int flushed, String transcript) throws Exception {
        byte[] image = Files.readAllBytes(disk);
        assertThat(image.length).as("the image's size").isEqualTo(DISK_BLOCKS * BLOCK);
        byte[] zeros = new byte[BLOCK];
        for (int i = 0; i < DISK_BLOCKS; i++) {
            byte[] block = Arrays.copyOfRange(image, i * BLOCK, (i + 1) * BLOCK);
            byte[] expected = pattern("nimbus-block-" + i, BLOCK);
            if (i <= flushed) {
                assertThat(block).as("block %d, flushed before the kill (last reported: %d); output:%n%s", i, flushed, transcript)
                        .isEqualTo(expected);
            } else {
                assertThat(Arrays.equals(block, zeros) || Arrays.equals(block, expected))
                        .as("block %d, after the last flush (%d): zeros or its own pattern, nothing else", i, flushed).isTrue();
            }
        }
    }

    @Test
    void everyBlockFlushedBeforeTheVmmIsKilledIsInTheImage(@TempDir Path dir) throws Exception {
        Path disk = zeroDisk(dir);
        int blocks = 64;
        try (NimbusProcess nimbus = startRaw(dir, disk, " nimbus.blocks=" + blocks)) {
            assertThat(nimbus.awaitLines("ALL-FLUSHED"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
            List<String> out = kill(nimbus);
            assertThat(out).as(nimbus.transcript()).noneMatch(l -> l.startsWith("WRITE-FAILED"));
            assertThat(lastReported(out, FLUSHED)).isEqualTo(blocks - 1);
            assertStreamKept(disk, blocks - 1, nimbus.transcript());
        }
    }

    @Test
    void aKillAtARandomMomentOfAWriteStreamLosesNothingFlushed(@TempDir Path dir) throws Exception {
        Path disk = zeroDisk(dir);
        try (NimbusProcess nimbus = startRaw(dir, disk, "")) {
            assertThat(nimbus.awaitLines(l -> l.equals("FLUSHED 0"), 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
            long delay = ThreadLocalRandom.current().nextLong(500, 5_000);
            Thread.sleep(delay); // a moment unrelated to the guest's reports: most likely in the middle of a write
            List<String> out = kill(nimbus);
            int flushed = lastReported(out, FLUSHED);
            assertThat(out).as(nimbus.transcript()).noneMatch(l -> l.startsWith("WRITE-FAILED")).doesNotContain("ALL-FLUSHED");
            System.out.println("raw stream: killed " + delay + " ms after the first flush, after block " + flushed + " was flushed");
            assertStreamKept(disk, flushed, "killed " + delay + " ms after the first flush\n" + nimbus.transcript());
        }
    }

    @Test
    void anExt4RootKilledMidStreamNeedsOnlyItsJournalAndKeepsEverySyncedFile(@TempDir Path dir) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
        long size = Files.size(root);
        int synced;
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get("kernel.bzimage"),
                "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=crash-fs", "--memory", "size=256M",
                "--serial", "tty", "--console", "off", "--disk", "path=" + root)) {
            assertThat(nimbus.awaitLines(l -> l.equals("SYNCED 2"), 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
            Thread.sleep(ThreadLocalRandom.current().nextLong(200, 4_000));
            List<String> out = kill(nimbus);
            synced = lastReported(out, SYNCED);
            assertThat(synced).as(nimbus.transcript()).isGreaterThanOrEqualTo(2);
            assertThat(out).as("killed in the middle of the stream").doesNotContain("ALL-SYNCED");
            System.out.println("ext4 root: killed after file " + synced + " was synced");
        }
        assertThat(Files.size(root)).as("the image's size").isEqualTo(size);
        // what a power cut leaves: at most a journal to replay (e2fsck -p does that and nothing more: exit 0 or 1)
        int replay = run("e2fsck", "-p", root.toString());
        assertThat(replay).as("e2fsck -p after the kill: 0 clean, 1 the journal replayed").isBetween(0, 1);
        assertThat(run("e2fsck", "-f", "-n", root.toString())).as("e2fsck -fn once the journal is replayed").isZero();
        for (int i = 0; i <= synced; i++) {
            assertThat(debugfsCat(root, "/data/f-" + i)).as("/data/f-%d, synced before the kill (last: %d)", i, synced)
                    .isEqualTo(new String(pattern("nimbus-file-" + i, 16384), StandardCharsets.US_ASCII));
        }
    }

    private static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).as(String.join(" ", command)).isTrue();
        System.out.println(String.join(" ", command) + " -> " + p.exitValue() + "\n" + output);
        return p.exitValue();
    }

    private static String debugfsCat(Path image, String path) throws Exception {
        Process p = new ProcessBuilder("debugfs", "-R", "cat " + path, image.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String content = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
        return content;
    }
}
