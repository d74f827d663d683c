package dev.nimbus.arch.x86_64.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * Small hand-made kernel images for the loaders' error paths: a bzImage with a valid 2.15 setup header
 * (one setup sector, a 4 KiB "kernel" of a known pattern), and an ELF64 x86-64 file with one loadable
 * segment and a PVH note. A test bends one field and checks the message.
 */
final class SyntheticKernels {
    private SyntheticKernels() {}

    static final int SETUP_BYTES = 1024;
    static final int KERNEL_BYTES = 4096;
    static final long PREF_ADDRESS = 0x100_0000;
    static final long INIT_SIZE = 0x10_0000;

    static byte[] bzImage() {
        return bzImage(b -> { });
    }

    static byte[] bzImage(Consumer<ByteBuffer> tweak) {
        ByteBuffer b = ByteBuffer.allocate(SETUP_BYTES + KERNEL_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(BzImage.SETUP_SECTS, (byte) 1);
        b.putInt(BzImage.SYSSIZE, KERNEL_BYTES / 16);
        b.putShort(BzImage.BOOT_FLAG, (short) 0xaa55);
        b.put(BzImage.JUMP, (byte) 0xeb).put(BzImage.JUMP + 1, (byte) 0x6a); // header ends at 0x26c
        b.putInt(BzImage.HEADER_MAGIC, BzImage.MAGIC);
        b.putShort(BzImage.VERSION, (short) 0x020f);
        b.put(BzImage.LOADFLAGS, (byte) BzImage.LOADED_HIGH);
        b.putInt(BzImage.INITRD_ADDR_MAX, 0x7fff_ffff);
        b.putInt(BzImage.KERNEL_ALIGNMENT, 0x20_0000);
        b.put(BzImage.RELOCATABLE_KERNEL, (byte) 1);
        b.putShort(BzImage.XLOADFLAGS, (short) 0x7f);
        b.putInt(BzImage.CMDLINE_SIZE, 0x7ff);
        b.putInt(BzImage.PAYLOAD_OFFSET, 0x100);
        b.putInt(BzImage.PAYLOAD_LENGTH, 0x200);
        b.putLong(BzImage.PREF_ADDRESS, PREF_ADDRESS);
        b.putInt(BzImage.INIT_SIZE, (int) INIT_SIZE);
        b.putShort(BzImage.KERNEL_VERSION, (short) 0x100);
        b.put(0x300, "6.99.0-synthetic".getBytes());
        for (int i = 0; i < KERNEL_BYTES; i++) {
            b.put(SETUP_BYTES + i, (byte) (i * 7 + 3));
        }
        tweak.accept(b);
        return b.array();
    }

    static final long ELF_LOAD = 0x100_0000;
    static final long ELF_ENTRY = 0x100_0040;
    static final int ELF_SEGMENT_OFFSET = 0x1000;
    static final int ELF_FILE_SIZE = 0x1000;
    static final int ELF_MEM_SIZE = 0x3000;
    static final int PHDRS = 64;
    static final int NOTES = 0x200;

    /** An ELF64 executable: PT_LOAD 0x1000 bytes (0x3000 in memory) at 16 MiB, PT_NOTE with a GNU note then the PVH note. */
    static byte[] elf(Consumer<ByteBuffer> tweak) {
        ByteBuffer b = ByteBuffer.allocate(ELF_SEGMENT_OFFSET + ELF_FILE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) ElfKernel.EM_X86_64).putInt(20, 1);
        b.putLong(24, 0xffff_ffff_8100_0000L).putLong(32, PHDRS).putShort(52, (short) 64)
                .putShort(54, (short) 56).putShort(56, (short) 2);
        // PT_LOAD
        b.putInt(PHDRS, ElfKernel.PT_LOAD).putInt(PHDRS + 4, 5).putLong(PHDRS + 8, ELF_SEGMENT_OFFSET)
                .putLong(PHDRS + 16, 0xffff_ffff_8100_0000L).putLong(PHDRS + 24, ELF_LOAD)
                .putLong(PHDRS + 32, ELF_FILE_SIZE).putLong(PHDRS + 40, ELF_MEM_SIZE).putLong(PHDRS + 48, 0x1000);
        // PT_NOTE: a GNU build-id-like note (4-byte name, 8-byte value), then Xen's PHYS32_ENTRY (8-byte value)
        int notesLength = (12 + 4 + 8) + (12 + 4 + 8);
        int ph = PHDRS + 56;
        b.putInt(ph, ElfKernel.PT_NOTE).putInt(ph + 4, 4).putLong(ph + 8, NOTES).putLong(ph + 32, notesLength)
                .putLong(ph + 40, notesLength).putLong(ph + 48, 4);
        b.position(NOTES);
        b.putInt(4).putInt(8).putInt(3).put(new byte[] {'G', 'N', 'U', 0}).putLong(0x1122334455667788L);
        b.putInt(4).putInt(8).putInt(ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY).put(new byte[] {'X', 'e', 'n', 0}).putLong(ELF_ENTRY);
        for (int i = 0; i < ELF_FILE_SIZE; i++) {
            b.put(ELF_SEGMENT_OFFSET + i, (byte) (i * 13 + 1));
        }
        b.position(0);
        tweak.accept(b);
        return b.array();
    }

    static byte[] elf() {
        return elf(b -> { });
    }
}
