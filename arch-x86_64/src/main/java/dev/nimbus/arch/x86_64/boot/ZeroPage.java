package dev.nimbus.arch.x86_64.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The Linux boot protocol's {@code struct boot_params} (the "zero page"), filled by the loader: the
 * kernel's own setup header with the loader's fields set, and the e820 memory map. Offsets are those of
 * {@code arch/x86/include/uapi/asm/bootparam.h} (a test compiles that header and compares).
 */
public final class ZeroPage {
    public static final int SIZE = 4096;
    public static final int ACPI_RSDP_ADDR = 0x070;
    public static final int EXT_RAMDISK_IMAGE = 0x0c0;
    public static final int EXT_RAMDISK_SIZE = 0x0c4;
    public static final int EXT_CMD_LINE_PTR = 0x0c8;
    public static final int E820_ENTRIES = 0x1e8;
    public static final int E820_TABLE = 0x2d0;
    public static final int E820_ENTRY_SIZE = 20;
    public static final int E820_MAX_ENTRIES = 128;
    /** type_of_loader: "undefined", the id for a boot loader without an assigned one. */
    public static final int LOADER_UNDEFINED = 0xff;

    private final ByteBuffer page = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** A zero page holding the kernel's setup header (as read from the image, 0x1f1 to its end). */
    public ZeroPage(BzImage image) {
        page.put(BzImage.SETUP_SECTS, image.header());
        page.put(BzImage.TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
    }

    public ZeroPage commandLine(long address) {
        page.putInt(BzImage.CMD_LINE_PTR, (int) address);
        page.putInt(EXT_CMD_LINE_PTR, (int) (address >>> 32));
        return this;
    }

    public ZeroPage initramfs(long address, long size) {
        page.putInt(BzImage.RAMDISK_IMAGE, (int) address);
        page.putInt(EXT_RAMDISK_IMAGE, (int) (address >>> 32));
        page.putInt(BzImage.RAMDISK_SIZE, (int) size);
        page.putInt(EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    /** The protected-mode code's load address, for kernels that look at it (informational in 64-bit boot). */
    public ZeroPage loadAddress(long address) {
        page.putInt(BzImage.CODE32_START, (int) address);
        return this;
    }

    public ZeroPage rsdp(long address) {
        page.putLong(ACPI_RSDP_ADDR, address);
        return this;
    }

    public ZeroPage memoryMap(List<E820Entry> map) {
        if (map.size() > E820_MAX_ENTRIES) {
            throw new IllegalArgumentException("the zero page holds " + E820_MAX_ENTRIES + " e820 entries, not " + map.size());
        }
        page.put(E820_ENTRIES, (byte) map.size());
        int p = E820_TABLE;
        for (E820Entry e : map) {
            page.putLong(p, e.address()).putLong(p + 8, e.size()).putInt(p + 16, e.type());
            p += E820_ENTRY_SIZE;
        }
        return this;
    }

    public byte[] bytes() {
        return page.array().clone();
    }
}
