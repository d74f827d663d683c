package dev.nimbus.host;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * A disk image as virtio-blk uses it: positional vectored I/O that leaves the file position alone, the
 * image's lock, and O_DIRECT, whose unaligned buffers go through a bounce buffer. The O_DIRECT tests use a
 * file under the build's target directory (a disk file system; tmpfs did not do direct I/O before Linux 6.6).
 */
class DiskImageTest {
    static final int SIZE = 4 << 20;

    @TempDir
    Path tmp;
    Path onDisk;
    byte[] original;

    @BeforeEach
    void setUp() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "disk-image-test")).toAbsolutePath();
        onDisk = Files.createTempFile(dir, "image", ".raw");
        onDisk.toFile().deleteOnExit();
        original = new byte[SIZE];
        new Random(17).nextBytes(original);
        Files.write(onDisk, original);
    }

    /** The {@code flags:} line of the descriptor's /proc/self/fdinfo entry (octal). */
    static int fdFlags(int fd) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
            if (line.startsWith("flags:")) {
                return Integer.parseInt(line.substring(6).trim(), 8);
            }
        }
        throw new AssertionError("no flags in fdinfo of " + fd);
    }

    static boolean onTmpfs(Path p) throws Exception {
        return "tmpfs".equals(Files.getFileStore(p).type());
    }

    /** {@code length} bytes of a direct buffer starting {@code misalign} bytes past a 4096-byte boundary. */
    static ByteBuffer buffer(int length, int misalign) {
        ByteBuffer page = ByteBuffer.allocateDirect(length + 8192).alignedSlice(4096);
        return page.position(misalign).limit(misalign + length).slice();
    }

    /**
     * O_DIRECT as the running kernel spells it in fdinfo's flags: the JVM's own where it runs natively, the
     * host's where these tests run in QEMU user mode (an AArch64 JVM on x86-64: QEMU translates the flag for
     * open(), fdinfo shows the host kernel's). {@code uname}, started from here, runs natively in both cases.
     */
    static int kernelsODirect() throws Exception {
        Process p = new ProcessBuilder("uname", "-m").redirectErrorStream(true).start();
        String machine = new String(p.getInputStream().readAllBytes()).strip();
        p.waitFor();
        return DiskImage.oDirect(machine);
    }

    /** Each architecture's O_DIRECT as its uapi asm/fcntl.h has it (the host's for x86-64, Debian's cross headers). */
    @Test
    void oDirectIsEachArchitecturesOwn(@TempDir Path dir) throws Exception {
        dev.nimbus.testsupport.HostTools.ensurePackages("gcc", "linux-libc-dev-arm64-cross", "linux-libc-dev-riscv64-cross");
        for (String[] arch : new String[][] {{"x86_64", ""}, {"aarch64", "/usr/aarch64-linux-gnu/include"},
                {"riscv64", "/usr/riscv64-linux-gnu/include"}}) {
            Path src = Files.writeString(dir.resolve("o_direct.c"), """
                    #include <stdio.h>
                    #include <asm/fcntl.h>
                    int main(void) { printf("%lu\\n", (unsigned long) O_DIRECT); return 0; }
                    """);
            Path exe = dir.resolve("o_direct");
            List<String> gcc = new ArrayList<>(List.of("gcc", "-o", exe.toString()));
            if (!arch[1].isEmpty()) {
                gcc.addAll(List.of("-I", arch[1]));
            }
            gcc.add(src.toString());
            dev.nimbus.testsupport.HostTools.run(dir, gcc);
            assertThat((long) DiskImage.oDirect(arch[0])).as("O_DIRECT on " + arch[0])
                    .isEqualTo(Long.parseLong(dev.nimbus.testsupport.HostTools.run(dir, List.of(exe.toString())).strip()));
        }
    }

    @Test
    void directOpenSetsODirectOnTheDescriptor() throws Exception {
        assumeFalse(onTmpfs(onDisk), "target/ is on tmpfs here");
        try (DiskImage image = DiskImage.open(onDisk, false, true)) {
            assertThat(fdFlags(image.fd()) & kernelsODirect()).as("O_DIRECT in fdinfo flags").isNotZero();
            assertThat(image.direct()).isTrue();
            assertThat(image.alignment()).isIn(512, 4096);
            assertThat(image.size()).isEqualTo(SIZE);
        }
        try (DiskImage image = DiskImage.open(onDisk, false, false)) {
            assertThat(fdFlags(image.fd()) & kernelsODirect()).as("no O_DIRECT without direct").isZero();
            assertThat(image.alignment()).isEqualTo(1);
        }
    }

    @Test
    void alignedDirectBuffersGoStraightToTheFile() throws Exception {
        assumeFalse(onTmpfs(onDisk), "target/ is on tmpfs here");
        try (DiskImage image = DiskImage.open(onDisk, false, true)) {
            ByteBuffer a = buffer(8192, 0);
            ByteBuffer b = buffer(4096, 0);
            assertThat(image.read(List.of(a, b), 4096)).isEqualTo(12288);
            assertThat(bytes(a)).isEqualTo(Arrays.copyOfRange(original, 4096, 12288));
            assertThat(bytes(b)).isEqualTo(Arrays.copyOfRange(original, 12288, 16384));
            assertThat(image.bouncedRequests()).isZero();
        }
    }

    /**
     * Buffers at odd addresses and of odd lengths (a total in whole blocks), larger than the bounce buffer:
     * written through it and read back through it, the bytes are the guest's, in order.
     */
    @Test
    void unalignedBuffersGoThroughTheBounceBufferWithTheRightBytes() throws Exception {
        assumeFalse(onTmpfs(onDisk), "target/ is on tmpfs here");
        int[] lengths = {1, 511, DiskImage.BOUNCE_BYTES + 700, 3000, 4096 * 3 - 1 - 511 - 700 - 3000 + 4096 * 2};
        int total = Arrays.stream(lengths).sum();
        assertThat(total % 4096).isZero();
        Random random = new Random(5);
        byte[] expected = new byte[total];
        random.nextBytes(expected);
        List<ByteBuffer> out = new ArrayList<>();
        int at = 0;
        for (int i = 0; i < lengths.length; i++) {
            ByteBuffer b = buffer(lengths[i], 3 + i);
            b.put(0, expected, at, lengths[i]);
            at += lengths[i];
            out.add(b);
        }
        try (DiskImage image = DiskImage.open(onDisk, false, true)) {
            assertThat(image.write(out, 8192)).isEqualTo(total);
            assertThat(image.bouncedRequests()).isEqualTo(1);
            List<ByteBuffer> in = new ArrayList<>();
            for (int i = 0; i < lengths.length; i++) {
                in.add(buffer(lengths[i], 7 + i));
            }
            assertThat(image.read(in, 8192)).isEqualTo(total);
            assertThat(image.bouncedRequests()).isEqualTo(2);
            ByteBuffer all = ByteBuffer.allocate(total);
            in.forEach(b -> all.put(b.duplicate()));
            assertThat(all.array()).isEqualTo(expected);
        }
        byte[] file = Files.readAllBytes(onDisk);
        assertThat(Arrays.copyOfRange(file, 8192, 8192 + total)).isEqualTo(expected);
        assertThat(Arrays.copyOfRange(file, 0, 8192)).isEqualTo(Arrays.copyOfRange(original, 0, 8192));
        assertThat(Arrays.copyOfRange(file, 8192 + total, SIZE)).isEqualTo(Arrays.copyOfRange(original, 8192 + total, SIZE));
    }

    @Test
    void directIoOfPartBlocksIsRefusedNotBounced() throws Exception {
        assumeFalse(onTmpfs(onDisk), "target/ is on tmpfs here");
        try (DiskImage image = DiskImage.open(onDisk, false, true)) {
            assertThatThrownBy(() -> image.read(List.of(buffer(512, 0)), 100))
                    .isInstanceOf(SyscallException.class).hasMessageContaining("not in whole blocks");
        }
    }

    /** preadv/pwritev at offsets: the file position stays where it was, so threads may share the descriptor. */
    @Test
    void positionalIoLeavesTheFilePositionAlone() throws Exception {
        Path file = Files.write(tmp.resolve("buffered.raw"), original);
        try (DiskImage image = DiskImage.open(file, false, false)) {
            ByteBuffer a = buffer(100, 1);
            ByteBuffer b = buffer(412, 5);
            a.put(0, new byte[100]);
            assertThat(image.write(List.of(a, b), 512)).isEqualTo(512);
            assertThat(LibC.lseek(image.fd(), 0, 1)).as("the position").isZero();
            ByteBuffer back = buffer(512, 0);
            assertThat(image.read(List.of(back), 512)).isEqualTo(512);
            assertThat(bytes(back)).startsWith(new byte[100]);
            assertThat(image.read(List.of(buffer(4096, 0)), SIZE - 1024)).as("a read past the end stops there").isEqualTo(1024);
            image.flush();
        }
    }

    @Test
    void aWritableImageIsLockedExclusivelyAReadOnlyOneShared() throws Exception {
        Path file = Files.write(tmp.resolve("locked.raw"), new byte[4096]);
        try (DiskImage first = DiskImage.open(file, false, false); DiskImage second = DiskImage.open(file, true, false)) {
            assertThat(first.tryLock()).isTrue();
            assertThat(second.tryLock()).as("another descriptor of this process").isFalse();
        }
        try (DiskImage a = DiskImage.open(file, true, false); DiskImage b = DiskImage.open(file, true, false)) {
            assertThat(a.tryLock()).isTrue();
            assertThat(b.tryLock()).as("two readers").isTrue();
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                assertThat(ch.tryLock()).as("a POSIX writer's lock against them").isNull();
            }
        }
    }

    @Test
    void aMissingImageIsENOENT() {
        assertThatThrownBy(() -> DiskImage.open(tmp.resolve("nope.raw"), true, false))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
