package dev.nimbus.arch.aarch64.boot;

import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootFiles;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * An arm64 Linux kernel {@code Image} (Documentation/arch/arm64/booting.rst, "Call the kernel image"),
 * read from a file that holds it raw or gzip-compressed (Debian's arm64 {@code vmlinuz} has been both).
 * The 64-byte header:
 * <pre>
 *   0x00 u32 code0        0x08 u64 text_offset   0x18 u64 flags        0x38 u32 magic "ARM\x64"
 *   0x04 u32 code1        0x10 u64 image_size    0x20 u64 res2..res4   0x3c u32 res5 (PE header offset)
 * </pre>
 * all little-endian. The image is loaded {@code text_offset} bytes above a 2 MiB-aligned base and needs
 * {@code image_size} bytes there (its bss included); execution starts at its first byte.
 *
 * @param bytes      the uncompressed image
 * @param textOffset where the image goes above its 2 MiB-aligned base
 * @param imageSize  how many bytes from the load address the kernel uses (at least the file's size)
 * @param compressed whether the file was gzip-compressed
 */
public record Arm64Image(byte[] bytes, long textOffset, long imageSize, boolean compressed) {
    /** {@code "ARM\x64"} read as a little-endian u32. */
    public static final int MAGIC = 0x644d5241;
    public static final int MAGIC_OFFSET = 0x38;
    public static final int HEADER_SIZE = 64;
    /** The text offset of kernels before 3.17, whose header has image_size 0. */
    public static final long LEGACY_TEXT_OFFSET = 0x80000;
    /** Header flags bit 0: the kernel is big-endian. */
    public static final long FLAG_BIG_ENDIAN = 1;

    /**
     * Reads and checks the kernel at {@code path}; a gzip file is decompressed first, to at most
     * {@code maxBytes}.
     *
     * @throws BootException naming the file and what was found when it is not an arm64 Image this machine boots
     */
    public static Arm64Image read(Path path, long maxBytes) throws BootException {
        BootFiles.KernelFile file = BootFiles.readKernel(path, maxBytes);
        return parse("kernel " + path + (file.gzip() ? " (gzip-compressed)" : ""), file.bytes(), file.gzip());
    }

    /** Checks the header of an uncompressed image; {@code what} names it in errors. */
    public static Arm64Image parse(String what, byte[] image, boolean compressed) throws BootException {
        if (image.length < HEADER_SIZE) {
            throw new BootException(String.format("%s: %d bytes, too short for an arm64 Image (64-byte header)", what, image.length));
        }
        ByteBuffer h = ByteBuffer.wrap(image, 0, HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int magic = h.getInt(MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw new BootException(String.format("%s: not an arm64 Image (no ARM\\x64 magic at 0x38; found %s%s)", what,
                    HexFormat.ofDelimiter(" ").formatHex(image, MAGIC_OFFSET, MAGIC_OFFSET + 4), guess(image)));
        }
        long textOffset = h.getLong(0x08);
        long imageSize = h.getLong(0x10);
        long flags = h.getLong(0x18);
        if (imageSize == 0) {
            // before Linux 3.17: text_offset is 0x80000 and the effective size is not recorded
            textOffset = LEGACY_TEXT_OFFSET;
            imageSize = image.length;
        } else if ((flags & FLAG_BIG_ENDIAN) != 0) {
            throw new BootException(what + ": a big-endian arm64 kernel (header flags bit 0); Nimbus runs little-endian guests");
        }
        if (textOffset < 0 || textOffset % 4096 != 0 || textOffset >= 2 * 1024 * 1024) {
            throw new BootException(String.format("%s: text_offset 0x%x is not a page-aligned offset within 2 MiB", what, textOffset));
        }
        if (imageSize < image.length) {
            throw new BootException(String.format("%s: header image_size 0x%x is smaller than the image's 0x%x bytes", what, imageSize, image.length));
        }
        return new Arm64Image(image, textOffset, imageSize, compressed);
    }

    private static String guess(byte[] image) {
        if (image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F') {
            return ": an ELF file (a vmlinux?), not the Image";
        }
        if (image[0] == 'M' && image[1] == 'Z' && image.length >= 8 && image[4] == 'z' && image[5] == 'i' && image[6] == 'm' && image[7] == 'g') {
            return ": an EFI zboot image, which only EFI firmware unpacks";
        }
        if (image.length > 0x206 && image[0x202] == 'H' && image[0x203] == 'd' && image[0x204] == 'r' && image[0x205] == 'S') {
            return ": an x86 bzImage";
        }
        return "";
    }
}
