package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.hypervisor.arch.BootException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * An ELF64 x86-64 kernel ({@code vmlinux}) as the PVH boot protocol loads it: its loadable segments (at
 * their physical addresses) and the {@code XEN_ELFNOTE_PHYS32_ENTRY} note that names the 32-bit entry.
 * Every offset and size read from the file is checked against the file before use.
 *
 * @param segments  the {@code PT_LOAD} segments
 * @param pvhEntry  the PVH entry point, when the kernel has the note
 */
public record ElfKernel(List<Segment> segments, OptionalLong pvhEntry) {
    public static final int PT_LOAD = 1;
    public static final int PT_NOTE = 4;
    public static final int EM_X86_64 = 62;
    /** The note type of the PVH entry point in Xen's {@code elfnote.h}, under owner "Xen". */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    private static final int EHDR_SIZE = 64;
    private static final int PHDR_SIZE = 56;
    private static final int MAX_PHDRS = 256;

    /** One {@code PT_LOAD} segment: {@code fileSize} bytes from {@code offset} go to {@code physAddress}, zeros up to {@code memSize}. */
    public record Segment(long offset, long physAddress, long fileSize, long memSize) {
        public long end() {
            return physAddress + memSize;
        }
    }

    public ElfKernel {
        segments = List.copyOf(segments);
    }

    /** True when {@code head} starts with the ELF magic. */
    public static boolean looksLikeElf(byte[] head) {
        return head.length >= 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
    }

    /**
     * Reads the ELF header, the program headers and the notes.
     *
     * @param file the file's name, for messages
     * @param image the whole file
     */
    public static ElfKernel parse(String file, ByteBuffer image) throws BootException {
        String what = "kernel " + file + ": ";
        ByteBuffer b = image.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long size = b.limit();
        if (size < EHDR_SIZE) {
            throw new BootException(what + "truncated ELF: " + size + " bytes, too short for an ELF header");
        }
        int elfClass = b.get(4), data = b.get(5), machine = b.getShort(18) & 0xffff;
        if (elfClass != 2 || data != 1 || machine != EM_X86_64) {
            throw new BootException(String.format("%sELF file is not 64-bit little-endian x86-64 (class %d, data %d, machine %d)",
                    what, elfClass, data, machine));
        }
        long phoff = b.getLong(32);
        int phentsize = b.getShort(54) & 0xffff;
        int phnum = b.getShort(56) & 0xffff;
        if (phnum == 0 || phnum > MAX_PHDRS || phentsize < PHDR_SIZE) {
            throw new BootException(String.format("%sELF program header table is absurd (%d entries of %d bytes)",
                    what, phnum, phentsize));
        }
        if (phoff < 0 || phoff + (long) phnum * phentsize > size) {
            throw new BootException(String.format("%struncated ELF: program header table at 0x%x+%d runs past the end of the file (%d bytes)",
                    what, phoff, phnum * phentsize, size));
        }
        List<Segment> segments = new ArrayList<>();
        OptionalLong entry = OptionalLong.empty();
        for (int i = 0; i < phnum; i++) {
            int ph = (int) (phoff + (long) i * phentsize);
            int type = b.getInt(ph);
            long offset = b.getLong(ph + 8);
            long paddr = b.getLong(ph + 24);
            long filesz = b.getLong(ph + 32);
            long memsz = b.getLong(ph + 40);
            if (type != PT_LOAD && type != PT_NOTE) {
                continue;
            }
            if (offset < 0 || filesz < 0 || offset + filesz > size || offset + filesz < offset) {
                throw new BootException(String.format("%struncated ELF: segment %d (file offset 0x%x, 0x%x bytes) runs past the end of the file (%d bytes)",
                        what, i, offset, filesz, size));
            }
            if (type == PT_LOAD) {
                if (memsz < filesz || paddr < 0 || paddr + memsz < paddr) {
                    throw new BootException(String.format("%sELF segment %d is absurd (0x%x bytes in the file, 0x%x in memory at 0x%x)",
                            what, i, filesz, memsz, paddr));
                }
                segments.add(new Segment(offset, paddr, filesz, memsz));
            } else if (entry.isEmpty()) {
                entry = pvhNote(what, b, (int) offset, (int) filesz, i);
            }
        }
        if (segments.isEmpty()) {
            throw new BootException(what + "ELF file has no loadable segment");
        }
        return new ElfKernel(segments, entry);
    }

    private static OptionalLong pvhNote(String what, ByteBuffer b, int start, int length, int segment) throws BootException {
        int p = start;
        int end = start + length;
        while (p + 12 <= end) {
            long namesz = b.getInt(p) & 0xffffffffL;
            long descsz = b.getInt(p + 4) & 0xffffffffL;
            int type = b.getInt(p + 8);
            long name = p + 12L;
            long desc = name + align4(namesz);
            long next = desc + align4(descsz);
            if (next > end) {
                throw new BootException(String.format("%smalformed ELF note at file offset 0x%x in segment %d (runs past the segment)",
                        what, p, segment));
            }
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && b.get((int) name) == 'X' && b.get((int) name + 1) == 'e'
                    && b.get((int) name + 2) == 'n' && b.get((int) name + 3) == 0) {
                if (descsz == 4) {
                    return OptionalLong.of(b.getInt((int) desc) & 0xffffffffL);
                } else if (descsz == 8) {
                    return OptionalLong.of(b.getLong((int) desc));
                }
                throw new BootException(String.format("%sXEN_ELFNOTE_PHYS32_ENTRY note has %d bytes of value, not 4 or 8",
                        what, descsz));
            }
            p = (int) next;
        }
        return OptionalLong.empty();
    }

    private static long align4(long v) {
        return (v + 3) & ~3L;
    }

    /** The first address after the highest segment. */
    public long end() {
        return segments.stream().mapToLong(Segment::end).max().orElseThrow();
    }
}
