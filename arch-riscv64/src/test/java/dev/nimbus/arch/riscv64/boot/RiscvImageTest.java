package dev.nimbus.arch.riscv64.boot;

import dev.nimbus.arch.riscv64.DebianRiscv64Kernel;
import dev.nimbus.hypervisor.arch.BootException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The header of boot-image-header.rst, against Debian's own kernel and hand-made headers. */
class RiscvImageTest {
    private static final long LIMIT = 1L << 30;
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    /** A header as boot-image-header.rst lays it out, version 0.2, little-endian, then {@code body} zero bytes. */
    private static byte[] header(long textOffset, long imageSize, long flags, int body) {
        ByteBuffer b = ByteBuffer.allocate(64 + body).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x00, 0x0000_006f);               // code0: j . (any code; the header does not care)
        b.putLong(0x08, textOffset);
        b.putLong(0x10, imageSize);
        b.putLong(0x18, flags);
        b.putInt(0x20, 2);                         // version 0.2
        b.put(0x30, "RISCV\0\0\0".getBytes(StandardCharsets.US_ASCII));
        b.put(0x38, new byte[] {'R', 'S', 'C', 0x05});
        return b.array();
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    @Test
    void debiansKernelAsShippedIsARiscvImageWithAnEfiStub() throws Exception {
        Path shipped = DebianRiscv64Kernel.asShipped();
        RiscvImage image = RiscvImage.read(shipped, LIMIT);
        byte[] file = Files.readAllBytes(shipped);
        assertThat(image.compressed()).isFalse();
        assertThat(image.bytes()).isEqualTo(file);
        assertThat(new String(file, 0, 2, StandardCharsets.US_ASCII)).as("the EFI stub's MZ").isEqualTo("MZ");
        assertThat(image.textOffset()).as("text_offset").isEqualTo(2 * MIB);
        assertThat(image.imageSize()).as("image_size covers the file and its bss").isGreaterThan(file.length);
        assertThat(image.versionString()).isEqualTo("0.2");
    }

    @Test
    void aGzipCompressedKernelIsUnpackedToTheSameImage() throws Exception {
        Path raw = DebianRiscv64Kernel.image();
        Path gz = dir.resolve("Image.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
            Files.copy(raw, out);
        }
        RiscvImage image = RiscvImage.read(gz, LIMIT);
        assertThat(image.compressed()).isTrue();
        assertThat(image.bytes()).isEqualTo(Files.readAllBytes(raw));
    }

    @Test
    void theHeaderFieldsAreReadLittleEndianAtTheirOffsets() throws Exception {
        RiscvImage image = RiscvImage.read(write("Image", header(4 * MIB, 0x1234_5000L, 0, 0x1000)), LIMIT);
        assertThat(image.textOffset()).isEqualTo(4 * MIB);
        assertThat(image.imageSize()).isEqualTo(0x1234_5000L);
        assertThat(image.version()).isEqualTo(2);
    }

    @Test
    void aVersion01HeaderWithOnlyTheFirstMagicIsAccepted() throws Exception {
        byte[] h = header(2 * MIB, 0, 1, 0x100);
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x20, 1).putInt(0x38, 0);         // version 0.1: no magic2, flags not defined yet
        RiscvImage image = RiscvImage.read(write("Image", h), LIMIT);
        assertThat(image.imageSize()).as("image_size 0: the file's size").isEqualTo(h.length);
    }

    @Test
    void aHeaderWithOnlyTheSecondMagicIsAccepted() throws Exception {
        byte[] h = header(2 * MIB, 0, 0, 0x100);
        ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putLong(0x30, 0); // "magic" is deprecated; magic2 is what counts
        assertThat(RiscvImage.read(write("Image", h), LIMIT).textOffset()).isEqualTo(2 * MIB);
    }

    @Test
    void aFileThatIsNoKernelIsOneLineNamingItAndWhatWasFound() throws Exception {
        Path notKernel = write("notes.txt", ("kernel? no." + "x".repeat(100)).getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> RiscvImage.read(notKernel, LIMIT)).isInstanceOf(BootException.class)
                .hasMessage("kernel " + notKernel + ": not a riscv64 Image (no RSC\\x05 magic at 0x38 nor RISCV at 0x30; found 78 78 78 78)");
    }

    @Test
    void anArm64ImageIsRecognizedAsSuch() throws Exception {
        byte[] arm = new byte[4096];
        ByteBuffer.wrap(arm).order(ByteOrder.LITTLE_ENDIAN).putInt(0x38, 0x644d5241);
        Path p = write("Image-arm64", arm);
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("kernel " + p).hasMessageContaining("an arm64 Image").hasMessageNotContaining("\n");
    }

    @Test
    void anElfVmlinuxIsRecognizedAsSuch() throws Exception {
        byte[] elf = new byte[4096];
        elf[0] = 0x7f;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        Path p = write("vmlinux", elf);
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("an ELF file").hasMessageNotContaining("\n");
    }

    @Test
    void anXzKernelIsNamedAsXzRatherThanGuessed() throws Exception {
        byte[] xz = new byte[4096];
        System.arraycopy(new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0}, 0, xz, 0, 6);
        Path p = write("Image.xz", xz);
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("xz-compressed, which Nimbus does not unpack");
    }

    @Test
    void aFileShorterThanTheHeaderIsRefused() throws Exception {
        Path p = write("short", new byte[10]);
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessage("kernel " + p + ": 10 bytes, too short for a riscv64 Image (64-byte header)");
    }

    @Test
    void aBigEndianKernelIsRefused() throws Exception {
        Path p = write("Image", header(2 * MIB, 0, RiscvImage.FLAG_BIG_ENDIAN, 0x100));
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class).hasMessageContaining("big-endian");
    }

    @Test
    void aTextOffsetOffThe2MibGridIsRefused() throws Exception {
        Path p = write("Image", header(0x1000, 0, 0, 0x100));
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("text_offset 0x1000 is not a multiple of 2 MiB");
    }

    @Test
    void anImageSizeSmallerThanTheFileIsRefused() throws Exception {
        Path p = write("Image", header(2 * MIB, 0x40, 0, 0x1000));
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class)
                .hasMessageContaining("image_size 0x40 is smaller than the image's 0x1040 bytes");
    }

    @Test
    void aKernelFileLargerThanTheLimitIsRefusedBeforeItIsRead() throws Exception {
        Path p = write("Image", header(2 * MIB, 0, 0, 0x2000));
        assertThatThrownBy(() -> RiscvImage.read(p, 4096)).isInstanceOf(BootException.class)
                .hasMessageContaining("more than the 4096 bytes of RAM a kernel may use");
    }

    @Test
    void aMissingKernelIsNamed() {
        Path p = dir.resolve("nope");
        assertThatThrownBy(() -> RiscvImage.read(p, LIMIT)).isInstanceOf(BootException.class).hasMessage("kernel " + p + ": no such file");
    }
}
