package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.hypervisor.x86.X86Segment;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The boot GDTs. Selectors follow the Linux boot protocol ({@code __BOOT_CS} 0x10, {@code __BOOT_DS}
 * 0x18); the TSS at 0x20 only gives TR a valid descriptor, as VMX requires of a running vCPU. The segment
 * registers' hidden parts are derived from the very descriptors written, so the two cannot disagree.
 */
public final class Gdt {
    private Gdt() {}

    public static final int CODE_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;
    public static final int TSS_SELECTOR = 0x20;

    // Descriptor flags: the access byte in bits 0-7, then G, D/B, L, AVL in bits 12-15.
    /** 64-bit code: present, DPL 0, execute/read, accessed; L and G set. */
    static final int CODE64 = 0xa09b;
    /** 32-bit code: present, DPL 0, execute/read, accessed; D and G set. */
    static final int CODE32 = 0xc09b;
    /** Data: present, DPL 0, read/write, accessed; D/B and G set. */
    static final int DATA = 0xc093;
    /** A busy TSS (type 11), byte granular. */
    static final int TSS = 0x008b;
    /** The architectural minimum TSS limit (104 bytes). */
    static final int TSS_LIMIT = 0x67;

    /** An 8-byte segment descriptor. */
    public static long descriptor(int flags, long base, long limit) {
        return ((base & 0xff00_0000L) << 32) | ((base & 0x00ff_ffffL) << 16) | (limit & 0xffffL)
                | ((limit & 0xf_0000L) << 32) | ((long) (flags & 0xf0ff) << 40);
    }

    /** Null, null, 64-bit code, data, and a 16-byte 64-bit TSS (two slots). */
    public static long[] longMode() {
        return new long[] {0, 0, descriptor(CODE64, 0, 0xfffff), descriptor(DATA, 0, 0xfffff),
                descriptor(TSS, 0, TSS_LIMIT), 0};
    }

    /** Null, null, 32-bit code, data, and a 32-bit TSS: the state PVH enters with. */
    public static long[] protectedMode() {
        return new long[] {0, 0, descriptor(CODE32, 0, 0xfffff), descriptor(DATA, 0, 0xfffff),
                descriptor(TSS, 0, TSS_LIMIT)};
    }

    public static byte[] bytes(long[] entries) {
        ByteBuffer b = ByteBuffer.allocate(entries.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long e : entries) {
            b.putLong(e);
        }
        return b.array();
    }

    /** The hidden part a CPU caches when it loads {@code selector} referring to {@code descriptor}. */
    public static X86Segment segment(long descriptor, int selector) {
        long base = ((descriptor >>> 16) & 0xff_ffffL) | ((descriptor >>> 32) & 0xff00_0000L);
        int rawLimit = (int) ((descriptor & 0xffff) | ((descriptor >>> 32) & 0xf_0000L));
        int access = (int) (descriptor >>> 40) & 0xff;
        int flags = (int) (descriptor >>> 52) & 0xf;
        boolean g = (flags & 0x8) != 0;
        int limit = g ? (rawLimit << 12) | 0xfff : rawLimit;
        return new X86Segment(base, limit, selector, access & 0xf, (access & 0x80) != 0, (access >> 5) & 3,
                (flags & 0x4) != 0, (access & 0x10) != 0, (flags & 0x2) != 0, g, (flags & 0x1) != 0, false);
    }
}
