package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The boot page tables for the 64-bit entry: an identity map of the first 4 GiB in 2 MiB pages (one PML4
 * entry, four PDPT entries, four page directories), so the kernel, the zero page and the command line are
 * reachable wherever they were put. The kernel replaces them early.
 */
public final class PageTables {
    private PageTables() {}

    static final long PRESENT = 1;
    static final long WRITABLE = 1 << 1;
    static final long PAGE_SIZE_2M = 1 << 7;
    public static final long MAPPED_BYTES = 4 * X86Layout.GIB;

    /** Writes the tables at {@link X86Layout#PML4}, {@link X86Layout#PDPT} and {@link X86Layout#PD}. */
    public static void write(GuestMemory memory) throws GuestMemoryException {
        memory.fill(X86Layout.PML4, 4096, (byte) 0);
        memory.writeLong(X86Layout.PML4, X86Layout.PDPT | PRESENT | WRITABLE);
        ByteBuffer pdpt = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer pds = ByteBuffer.allocate(4 * 4096).order(ByteOrder.LITTLE_ENDIAN);
        for (int gib = 0; gib < 4; gib++) {
            pdpt.putLong(gib * 8, (X86Layout.PD + gib * 4096L) | PRESENT | WRITABLE);
        }
        for (int i = 0; i < 4 * 512; i++) {
            pds.putLong(i * 8, ((long) i << 21) | PRESENT | WRITABLE | PAGE_SIZE_2M);
        }
        memory.write(X86Layout.PDPT, pdpt.array());
        memory.write(X86Layout.PD, pds.array());
    }
}
