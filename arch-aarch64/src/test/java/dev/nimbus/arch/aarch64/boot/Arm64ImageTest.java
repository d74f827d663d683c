package dev.nimbus.arch.aarch64.boot;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.arch.aarch64.DebianArm64Kernel;
import dev.nimbus.hypervisor.arch.BootException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Arm64ImageTest {
    private static final long LIMIT = 512L << 20;

    @TempDir
    Path dir;

    /** A 64-byte header with the given fields, then {@code extra} zero bytes. */
    private static byte[] header(long textOffset, long imageSize, long flags, int magic, int extra) {
        ByteBuffer b = ByteBuffer.allocate(64 + extra).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x14000010); // b +0x40
        b.putLong(0x08, textOffset).putLong(0x10, imageSize).putLong(0x18, flags).putInt(0x38, magic);
        return b.array();
    }

    @Test
    void debiansArm64ImageHasItsHeaderFieldsRead() throws Exception {
        Path image = DebianArm64Kernel.image();
        byte[] file = Files.readAllBytes(image);
        ByteBuffer h = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);

        Arm64Image k = Arm64Image.read(image, LIMIT);

        assertThat(k.compressed()).isFalse();
        assertThat(k.textOffset()).isEqualTo(h.getLong(8));
        assertThat(k.imageSize()).isEqualTo(h.getLong(16)).isGreaterThanOrEqualTo(file.length);
        assertThat(k.bytes()).isEqualTo(file);
    }

    @Test
    void debiansVmlinuzIsAccepted() throws Exception {
        Arm64Image k = Arm64Image.read(DebianArm64Kernel.vmlinuz(), LIMIT);
        assertThat(k.bytes()).isEqualTo(Files.readAllBytes(DebianArm64Kernel.image()));
    }

    @Test
    void aGzipCompressedImageIsDecompressed() throws Exception {
        Path image = DebianArm64Kernel.image();
        Path gz = dir.resolve("vmlinuz.gz");
        HostTools.Result r = HostTools.runSeparately(List.of("sh", "-c", "gzip -c -1 \"$1\" > \"$2\"", "gzip", image.toString(), gz.toString()));
        assertThat(r.exit()).as(r.err()).isZero();

        Arm64Image k = Arm64Image.read(gz, LIMIT);

        assertThat(k.compressed()).isTrue();
        assertThat(k.bytes()).isEqualTo(Files.readAllBytes(image));
    }

    @Test
    void aCutShortGzipFileIsBadInputNamingTheFile() throws Exception {
        Path image = DebianArm64Kernel.image();
        Path gz = dir.resolve("cut.gz");
        HostTools.Result r = HostTools.runSeparately(List.of("sh", "-c", "head -c 1000000 \"$1\" | gzip -c -1 | head -c 50000 > \"$2\"", "gzip", image.toString(), gz.toString()));
        assertThat(r.exit()).as(r.err()).isZero();

        assertThatThrownBy(() -> Arm64Image.read(gz, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining(gz.toString()).hasMessageContaining("gzip data is corrupt or cut short");
    }

    @Test
    void aFileWithoutTheMagicIsBadInputSayingWhatWasFound() throws Exception {
        Path notKernel = Files.writeString(dir.resolve("notes.txt"), "this is not a kernel\n".repeat(10)); // "kern" at 0x38
        assertThatThrownBy(() -> Arm64Image.read(notKernel, LIMIT)).isInstanceOf(BootException.class)
                .hasMessage("kernel " + notKernel + ": not an arm64 Image (no ARM\\x64 magic at 0x38; found 6b 65 72 6e)");
    }

    @Test
    void anElfVmlinuxIsBadInputSayingSo() throws Exception {
        byte[] elf = new byte[256];
        elf[0] = 0x7f;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        Path p = Files.write(dir.resolve("vmlinux"), elf);
        assertThatThrownBy(() -> Arm64Image.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("an ELF file (a vmlinux?), not the Image").hasMessageNotContaining("\n");
    }

    @Test
    void aFileShorterThanTheHeaderIsBadInput() throws Exception {
        Path p = Files.write(dir.resolve("short"), new byte[10]);
        assertThatThrownBy(() -> Arm64Image.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessage("kernel " + p + ": 10 bytes, too short for an arm64 Image (64-byte header)");
    }

    @Test
    void aBigEndianKernelIsRefused() throws Exception {
        Path p = Files.write(dir.resolve("be"), header(0, 0x10000, Arm64Image.FLAG_BIG_ENDIAN, Arm64Image.MAGIC, 0));
        assertThatThrownBy(() -> Arm64Image.read(p, LIMIT)).isInstanceOf(BootException.class).hasMessageContaining("big-endian");
    }

    @Test
    void anImageSizeSmallerThanTheFileIsRefused() throws Exception {
        Path p = Files.write(dir.resolve("small"), header(0, 0x40, 0, Arm64Image.MAGIC, 4096));
        assertThatThrownBy(() -> Arm64Image.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("image_size 0x40 is smaller than the image's 0x1040 bytes");
    }

    @Test
    void aPre317HeaderWithoutImageSizeLoadsAtTheLegacyTextOffset() throws Exception {
        Path p = Files.write(dir.resolve("old"), header(0x12345, 0, 0, Arm64Image.MAGIC, 4096));
        Arm64Image k = Arm64Image.read(p, LIMIT);
        assertThat(k.textOffset()).isEqualTo(0x80000);
        assertThat(k.imageSize()).isEqualTo(64 + 4096);
    }

    @Test
    void aKernelLargerThanRamAllowsIsRefusedBeforeItIsRead() throws Exception {
        byte[] h = header(0, 1 << 20, 0, Arm64Image.MAGIC, (1 << 20) - 64);
        Path p = Files.write(dir.resolve("big"), h);
        assertThatThrownBy(() -> Arm64Image.read(p, 4096)).isInstanceOf(BootException.class)
                .hasMessageContaining("more than the 4096 bytes of RAM a kernel may use");
    }

    @Test
    void aDirectoryIsNotAKernel() {
        assertThatThrownBy(() -> Arm64Image.read(dir, LIMIT)).isInstanceOf(BootException.class)
                .hasMessage("kernel " + dir + ": not a regular file");
    }
}
