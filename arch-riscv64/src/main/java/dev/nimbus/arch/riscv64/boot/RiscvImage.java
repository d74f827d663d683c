package dev.nimbus.arch.riscv64.boot;

import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootFiles;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * A RISC-V Linux kernel {@code Image} (Documentation/arch/riscv/boot-image-header.rst), read from a file
 * that holds it raw or gzip-compressed. Debian ships it raw, as {@code /boot/vmlinux-<version>}: despite the
 * name an {@code Image} whose first bytes are also an EFI stub's {@code MZ} (the header's {@code res3} points
 * at the PE header). The 64-byte header, all little-endian:
 * <pre>
 *   0x00 u32 code0        0x10 u64 image_size    0x20 u32 version    0x28 u64 res2
 *   0x04 u32 code1        0x18 u64 flags         0x24 u32 res1       0x30 u64 magic "RISCV\0\0\0" (deprecated)
 *   0x08 u64 text_offset                                             0x38 u32 magic2 "RSC\x05"   0x3c u32 res3
 * </pre>
 * The image is loaded {@code text_offset} bytes above a 2 MiB-aligned base (a PMD boundary, which RV64
 * requires; RV32's 4 MiB does not concern a 64-bit machine) and needs {@code image_size} bytes there, its bss
 * included; execution starts at its first byte.
 *
 * @param bytes      the uncompressed image
 * @param textOffset where the image goes above its 2 MiB-aligned base
 * @param imageSize  how many bytes from the load address the kernel uses (at least the file's size)
 * @param version    the header version, major in bits 16-31 and minor in bits 0-15 (0.2 today)
 * @param compressed whether the file was gzip-compressed
 */
public record RiscvImage(byte[] bytes, long textOffset, long imageSize, int version, boolean compressed) {
    public static final int HEADER_SIZE = 64;
    public static final int MAGIC_OFFSET = 0x30;
    public static final int MAGIC2_OFFSET = 0x38;
    /** {@code "RISCV\0\0\0"} read as a little-endian u64; the only magic of header version 0.1. */
    public static final long MAGIC = 0x5643534952L;
    /** {@code "RSC\x05"} read as a little-endian u32; the magic from header version 0.2 on. */
    public static final int MAGIC2 = 0x05435352;
    /** Header flags bit 0: the kernel is big-endian. */
    public static final long FLAG_BIG_ENDIAN = 1;
    /** The alignment of the base the image is loaded above: a PMD (2 MiB) on RV64. */
    public static final long ALIGNMENT = 2L << 20;
    /** Header version 0.2: {@code flags} and {@code magic2} mean what they say. */
    public static final int VERSION_0_2 = 2;

    /**
     * Reads and checks the kernel at {@code path}; a gzip file is decompressed first, to at most
     * {@code maxBytes}.
     *
     * @throws BootException naming the file and what was found when it is not a riscv64 Image this machine boots
     */
    public static RiscvImage read(Path path, long maxBytes) throws BootException {
        BootFiles.KernelFile file = BootFiles.readKernel(path, maxBytes);
        return parse("kernel " + path + (file.gzip() ? " (gzip-compressed)" : ""), file.bytes(), file.gzip());
    }

    /** Checks the header of an uncompressed image; {@code what} names it in errors. */
    public static RiscvImage parse(String what, byte[] image, boolean compressed) throws BootException {
        if (image.length < HEADER_SIZE) {
            throw new BootException(String.format("%s: %d bytes, too short for a riscv64 Image (64-byte header)%s", what, image.length, guess(image)));
        }
        ByteBuffer h = ByteBuffer.wrap(image, 0, HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        boolean magic = h.getLong(MAGIC_OFFSET) == MAGIC;
        boolean magic2 = h.getInt(MAGIC2_OFFSET) == MAGIC2;
        if (!magic && !magic2) {
            throw new BootException(String.format("%s: not a riscv64 Image (no RSC\\x05 magic at 0x38 nor RISCV at 0x30; found %s%s)", what,
                    HexFormat.ofDelimiter(" ").formatHex(image, MAGIC2_OFFSET, MAGIC2_OFFSET + 4), guess(image)));
        }
        long textOffset = h.getLong(0x08);
        long imageSize = h.getLong(0x10);
        long flags = h.getLong(0x18);
        int version = h.getInt(0x20);
        if (version >= VERSION_0_2 && (flags & FLAG_BIG_ENDIAN) != 0) {
            throw new BootException(what + ": a big-endian riscv64 kernel (header flags bit 0); Nimbus runs little-endian guests");
        }
        if (textOffset < 0 || textOffset % ALIGNMENT != 0) {
            throw new BootException(String.format("%s: text_offset 0x%x is not a multiple of 2 MiB, so the kernel would not start on a PMD boundary",
                    what, textOffset));
        }
        if (imageSize == 0) {
            imageSize = image.length; // a header that does not say: the file is all there is, bss aside
        } else if (imageSize < image.length) {
            throw new BootException(String.format("%s: header image_size 0x%x is smaller than the image's 0x%x bytes", what, imageSize, image.length));
        }
        return new RiscvImage(image, textOffset, imageSize, version, compressed);
    }

    /** The header version as {@code major.minor}. */
    public String versionString() {
        return (version >>> 16) + "." + (version & 0xffff);
    }

    /** What the file looks like when it is not a riscv64 Image, for the one-line error. */
    private static String guess(byte[] image) {
        if (image.length >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F') {
            return ": an ELF file (a vmlinux from a kernel build?), not the Image";
        }
        if (image.length >= 8 && image[0] == 'M' && image[1] == 'Z' && image[4] == 'z' && image[5] == 'i' && image[6] == 'm' && image[7] == 'g') {
            return ": an EFI zboot image, which only EFI firmware unpacks";
        }
        if (image.length >= 0x3c && image[0x38] == 'A' && image[0x39] == 'R' && image[0x3a] == 'M' && image[0x3b] == 0x64) {
            return ": an arm64 Image";
        }
        if (image.length > 0x206 && image[0x202] == 'H' && image[0x203] == 'd' && image[0x204] == 'r' && image[0x205] == 'S') {
            return ": an x86 bzImage";
        }
        if (image.length >= 6 && (image[0] & 0xff) == 0xfd && image[1] == '7' && image[2] == 'z' && image[3] == 'X' && image[4] == 'Z') {
            return ": xz-compressed, which Nimbus does not unpack (gzip it, or give the raw Image)";
        }
        if (image.length >= 4 && (image[0] & 0xff) == 0x28 && (image[1] & 0xff) == 0xb5 && (image[2] & 0xff) == 0x2f && (image[3] & 0xff) == 0xfd) {
            return ": zstd-compressed, which Nimbus does not unpack (gzip it, or give the raw Image)";
        }
        return "";
    }
}
