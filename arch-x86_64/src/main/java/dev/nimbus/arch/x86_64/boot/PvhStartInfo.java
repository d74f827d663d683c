package dev.nimbus.arch.x86_64.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The PVH boot ABI's structures (Xen's {@code public/arch-x86/hvm/start_info.h}, version 1):
 * {@code hvm_start_info}, the module list entry and the memory map entry. A test compiles Xen's header
 * and compares the offsets.
 */
public final class PvhStartInfo {
    private PvhStartInfo() {}

    public static final int MAGIC = 0x336ec578;
    public static final int VERSION = 1;
    public static final int SIZE = 56;
    public static final int NR_MODULES = 12;
    public static final int MODLIST_PADDR = 16;
    public static final int CMDLINE_PADDR = 24;
    public static final int RSDP_PADDR = 32;
    public static final int MEMMAP_PADDR = 40;
    public static final int MEMMAP_ENTRIES = 48;
    public static final int MODLIST_ENTRY_SIZE = 32;
    public static final int MEMMAP_ENTRY_SIZE = 24;

    /** {@code struct hvm_start_info}. */
    public static byte[] startInfo(int modules, long modlist, long cmdline, long rsdp, long memmap, int memmapEntries) {
        return ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(MAGIC).putInt(VERSION).putInt(0).putInt(modules)
                .putLong(modlist).putLong(cmdline).putLong(rsdp).putLong(memmap)
                .putInt(memmapEntries).putInt(0).array();
    }

    /** One {@code struct hvm_modlist_entry}: a module (the initramfs) with no command line of its own. */
    public static byte[] module(long address, long size) {
        return ByteBuffer.allocate(MODLIST_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(address).putLong(size).putLong(0).putLong(0).array();
    }

    /** The {@code struct hvm_memmap_table_entry} array for {@code map}; e820 type numbers are the same. */
    public static byte[] memoryMap(List<E820Entry> map) {
        ByteBuffer b = ByteBuffer.allocate(map.size() * MEMMAP_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (E820Entry e : map) {
            b.putLong(e.address()).putLong(e.size()).putInt(e.type()).putInt(0);
        }
        return b.array();
    }
}
