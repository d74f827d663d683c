package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.hypervisor.arch.BootException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The setup header of a Linux x86 bzImage (Documentation/arch/x86/boot.rst), read and checked: what
 * Nimbus needs to load it at a relocated address and enter its 64-bit entry point.
 *
 * @param setupBytes     bytes of the real-mode setup code at the start of the file ({@code (setup_sects + 1) * 512});
 *                       the protected-mode kernel follows them
 * @param kernelBytes    bytes of the protected-mode kernel ({@code syssize} paragraphs after the setup code)
 * @param version        the boot protocol version, {@code 0x020f} for 2.15
 * @param kernelVersion  the version string the header points at ({@code 6.1.0-56-amd64 (debian-kernel@...) #1 SMP ...}), or empty
 * @param header         the setup header bytes, {@code 0x1f1} to its end, to be copied into the zero page
 */
public record BzImage(int setupBytes, long kernelBytes, int version, int loadflags, long kernelAlignment,
                      boolean relocatable, int xloadflags, long cmdlineSize, long initrdAddrMax,
                      long prefAddress, long initSize, long payloadOffset, long payloadLength,
                      String kernelVersion, byte[] header) {

    /** Offsets in the file, and in {@code struct boot_params}, which embeds the header at the same place. */
    public static final int SETUP_SECTS = 0x1f1;
    public static final int SYSSIZE = 0x1f4;
    public static final int BOOT_FLAG = 0x1fe;
    public static final int JUMP = 0x200;
    public static final int HEADER_MAGIC = 0x202;
    public static final int VERSION = 0x206;
    public static final int KERNEL_VERSION = 0x20e;
    public static final int TYPE_OF_LOADER = 0x210;
    public static final int LOADFLAGS = 0x211;
    public static final int CODE32_START = 0x214;
    public static final int RAMDISK_IMAGE = 0x218;
    public static final int RAMDISK_SIZE = 0x21c;
    public static final int CMD_LINE_PTR = 0x228;
    public static final int INITRD_ADDR_MAX = 0x22c;
    public static final int KERNEL_ALIGNMENT = 0x230;
    public static final int RELOCATABLE_KERNEL = 0x234;
    public static final int XLOADFLAGS = 0x236;
    public static final int CMDLINE_SIZE = 0x238;
    public static final int PAYLOAD_OFFSET = 0x248;
    public static final int PAYLOAD_LENGTH = 0x24c;
    public static final int PREF_ADDRESS = 0x258;
    public static final int INIT_SIZE = 0x260;

    /** "HdrS", little-endian. */
    public static final int MAGIC = 0x53726448;
    /** loadflags: the protected-mode code is loaded at 0x100000 or above (a bzImage, not a zImage). */
    public static final int LOADED_HIGH = 0x01;
    /** xloadflags: the kernel has the 64-bit entry point at its load address + 0x200. */
    public static final int XLF_KERNEL_64 = 0x01;
    /** The 64-bit entry point's offset from the load address ({@code startup_64}). */
    public static final long ENTRY_64_OFFSET = 0x200;
    /** The oldest protocol Nimbus boots: 2.06 has {@code cmdline_size}. */
    public static final int MIN_VERSION = 0x0206;
    /** The protocol that introduced {@code xloadflags}. */
    public static final int XLOADFLAGS_VERSION = 0x020c;
    /** The protocol that introduced {@code pref_address} and {@code init_size}. */
    public static final int PREF_ADDRESS_VERSION = 0x020a;
    /** Where a setup header can end at the latest: {@code boot_params} has its own fields from 0x290. */
    public static final int HEADER_LIMIT = 0x290;
    /** Bytes of the file needed to read the whole header: the setup code is at most 64 sectors past the boot sector. */
    public static final int PROBE_BYTES = 65 * 512;

    private static final long MAX_INIT_SIZE = 1L << 30;

    /** True when {@code head} (the file's first bytes) has the "HdrS" magic of a bzImage setup header. */
    public static boolean looksLikeBzImage(byte[] head) {
        return head.length >= HEADER_MAGIC + 4 && le(head).getInt(HEADER_MAGIC) == MAGIC;
    }

    /**
     * Reads and checks the header.
     *
     * @param file     the file's name, for messages
     * @param head     the file's first bytes, at least {@link #PROBE_BYTES} of them when the file is that long
     * @param fileSize the file's size
     */
    public static BzImage parse(String file, byte[] head, long fileSize) throws BootException {
        String what = "kernel " + file + ": ";
        if (head.length < 0x264 || fileSize < 0x264) {
            throw new BootException(what + "truncated bzImage: " + fileSize + " bytes, too short for a setup header");
        }
        ByteBuffer b = le(head);
        if (b.getInt(HEADER_MAGIC) != MAGIC) {
            throw new BootException(what + "not a bzImage (no HdrS magic at 0x202)");
        }
        int version = u16(b, VERSION);
        if (version < MIN_VERSION) {
            throw new BootException(String.format("%sbzImage boot protocol %d.%02d is too old (2.06 or later needed)",
                    what, version >> 8, version & 0xff));
        }
        int loadflags = b.get(LOADFLAGS) & 0xff;
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new BootException(what + "a zImage (loaded below 1 MiB, LOADED_HIGH clear) is not supported, only a bzImage");
        }
        if (version < XLOADFLAGS_VERSION) {
            throw new BootException(String.format("%sbzImage has no 64-bit entry point (boot protocol %d.%02d has no xloadflags)",
                    what, version >> 8, version & 0xff));
        }
        int headerEnd = 0x202 + (b.get(JUMP + 1) & 0xff);
        if (headerEnd < INIT_SIZE + 4 || headerEnd > HEADER_LIMIT) {
            throw new BootException(String.format("%sbzImage setup header ends at 0x%x (from the jump at 0x200), "
                    + "outside 0x264..0x%x", what, headerEnd, HEADER_LIMIT));
        }
        int xloadflags = u16(b, XLOADFLAGS);
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new BootException(what + "bzImage has no 64-bit entry point (xloadflags bit XLF_KERNEL_64 is clear)");
        }
        boolean relocatable = b.get(RELOCATABLE_KERNEL) != 0;
        if (!relocatable) {
            throw new BootException(what + "bzImage is not relocatable (relocatable_kernel is 0)");
        }
        int setupSects = b.get(SETUP_SECTS) & 0xff;
        if (setupSects == 0) {
            setupSects = 4; // the protocol's rule for old images
        }
        int setupBytes = (setupSects + 1) * 512;
        long syssize = u32(b, SYSSIZE) * 16;
        if (fileSize <= setupBytes || syssize == 0 || setupBytes + syssize > fileSize) {
            throw new BootException(String.format("%struncated bzImage: the header says %d bytes (setup %d + kernel %d), the file has %d",
                    what, setupBytes + syssize, setupBytes, syssize, fileSize));
        }
        long kernelBytes = syssize; // a signed kernel may carry more bytes after it: they are not loaded
        long alignment = u32(b, KERNEL_ALIGNMENT);
        if (Long.bitCount(alignment) != 1 || alignment < 0x1000 || alignment > MAX_INIT_SIZE) {
            throw new BootException(String.format("%sbzImage kernel_alignment 0x%x is not a power of two between 4 KiB and 1 GiB",
                    what, alignment));
        }
        long initSize = u32(b, INIT_SIZE);
        if (initSize < kernelBytes) {
            throw new BootException(String.format("%sbzImage init_size 0x%x is smaller than the kernel itself (0x%x bytes)",
                    what, initSize, kernelBytes));
        }
        if (initSize > MAX_INIT_SIZE) {
            throw new BootException(String.format("%sbzImage init_size 0x%x is absurd (over 1 GiB)", what, initSize));
        }
        long cmdlineSize = u32(b, CMDLINE_SIZE);
        long prefAddress = b.getLong(PREF_ADDRESS);
        long payloadOffset = u32(b, PAYLOAD_OFFSET);
        long payloadLength = u32(b, PAYLOAD_LENGTH);
        if (payloadOffset + payloadLength > kernelBytes) {
            throw new BootException(String.format("%sbzImage payload at 0x%x+0x%x runs past the kernel's 0x%x bytes",
                    what, payloadOffset, payloadLength, kernelBytes));
        }
        return new BzImage(setupBytes, kernelBytes, version, loadflags, alignment, relocatable, xloadflags, cmdlineSize,
                u32(b, INITRD_ADDR_MAX), prefAddress, initSize, payloadOffset, payloadLength,
                kernelVersionString(head, u16(b, KERNEL_VERSION), setupBytes),
                Arrays.copyOfRange(head, SETUP_SECTS, headerEnd));
    }

    private static String kernelVersionString(byte[] head, int pointer, int setupBytes) {
        int start = JUMP + pointer;
        if (pointer == 0 || start >= Math.min(setupBytes, head.length)) {
            return "";
        }
        int end = start;
        while (end < Math.min(setupBytes, head.length) && head[end] != 0) {
            end++;
        }
        return new String(head, start, end - start, StandardCharsets.US_ASCII);
    }

    /** Boot protocol version as printed: {@code 2.15}. */
    public String protocol() {
        return String.format("%d.%02d", version >> 8, version & 0xff);
    }

    @Override
    public byte[] header() {
        return header.clone();
    }

    private static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int u16(ByteBuffer b, int offset) {
        return b.getShort(offset) & 0xffff;
    }

    private static long u32(ByteBuffer b, int offset) {
        return b.getInt(offset) & 0xffffffffL;
    }
}
