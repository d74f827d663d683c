package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.arch.x86_64.Machines;
import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PVH on a hand-made ELF kernel: the start info, memory map and module list, and every refusal's message. */
class PvhLoaderTest {
    @TempDir
    Path dir;
    MachineDescription machine = Machines.machine(64 * X86Layout.MIB, 1);
    GuestMemory memory = Machines.memory(machine);

    @AfterEach
    void release() {
        memory.close();
    }

    private Path file(String name, byte[] bytes) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private BootPlan load(Path kernel, Optional<Path> initramfs, String cmdline) throws BootException {
        return Machines.PLATFORM.loadKernel(memory, new BootImages(kernel, initramfs, cmdline), machine);
    }

    private void assertRefused(Consumer<ByteBuffer> tweak, String problem) throws Exception {
        Path kernel = file("vmlinux", SyntheticKernels.elf(tweak));
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": " + problem);
    }

    @Test
    void entryIsThePhys32EntryNoteAfterOtherNotes() throws Exception {
        BootPlan plan = load(file("vmlinux", SyntheticKernels.elf()), Optional.empty(), "");
        assertThat(plan.protocol()).isEqualTo("pvh");
        assertThat(plan.entryPoint()).isEqualTo(SyntheticKernels.ELF_ENTRY);
    }

    @Test
    void fourByteEntryNoteIsReadToo() throws Exception {
        // a 4-byte PHYS32_ENTRY value, as Xen's own kernels have it
        byte[] elf = SyntheticKernels.elf(b -> {
            int note = SyntheticKernels.NOTES + 24;
            b.putInt(note + 4, 4).putInt(note + 16, 0x100_0080);
            b.putLong(SyntheticKernels.PHDRS + 56 + 32, 24 + 20).putLong(SyntheticKernels.PHDRS + 56 + 40, 24 + 20);
        });
        assertThat(load(file("vmlinux", elf), Optional.empty(), "").entryPoint()).isEqualTo(0x100_0080);
    }

    @Test
    void segmentIsCopiedToItsPhysicalAddressAndItsBssZeroed() throws Exception {
        memory.fill(SyntheticKernels.ELF_LOAD, SyntheticKernels.ELF_MEM_SIZE, (byte) 0xcc);
        byte[] elf = SyntheticKernels.elf();
        load(file("vmlinux", elf), Optional.empty(), "");
        byte[] loaded = new byte[SyntheticKernels.ELF_MEM_SIZE];
        memory.read(SyntheticKernels.ELF_LOAD, loaded);
        assertThat(Arrays.copyOf(loaded, SyntheticKernels.ELF_FILE_SIZE))
                .isEqualTo(Arrays.copyOfRange(elf, SyntheticKernels.ELF_SEGMENT_OFFSET, elf.length));
        assertThat(Arrays.copyOfRange(loaded, SyntheticKernels.ELF_FILE_SIZE, loaded.length)).containsOnly(0);
    }

    @Test
    void startInfoPointsAtCommandLineRsdpAndMemoryMap() throws Exception {
        load(file("vmlinux", SyntheticKernels.elf()), Optional.empty(), "console=hvc0");
        long si = X86Layout.PVH_START_INFO;
        assertThat(memory.readInt(si)).isEqualTo(PvhStartInfo.MAGIC);
        assertThat(memory.readInt(si + 4)).isEqualTo(1);
        assertThat(memory.readInt(si + PvhStartInfo.NR_MODULES)).isZero();
        assertThat(memory.readLong(si + PvhStartInfo.RSDP_PADDR)).isEqualTo(X86Layout.ACPI_START);
        long cmdline = memory.readLong(si + PvhStartInfo.CMDLINE_PADDR);
        byte[] text = new byte[13];
        memory.read(cmdline, text);
        assertThat(new String(text, StandardCharsets.US_ASCII)).isEqualTo("console=hvc0\0");
        long map = memory.readLong(si + PvhStartInfo.MEMMAP_PADDR);
        int entries = memory.readInt(si + PvhStartInfo.MEMMAP_ENTRIES);
        List<E820Entry> expected = E820Entry.of(machine.layout());
        assertThat(entries).isEqualTo(expected.size());
        for (int i = 0; i < entries; i++) {
            long e = map + 24L * i;
            assertThat(new E820Entry(memory.readLong(e), memory.readLong(e + 8), memory.readInt(e + 16))).isEqualTo(expected.get(i));
        }
    }

    @Test
    void initramfsIsTheOneModule() throws Exception {
        byte[] initrd = new byte[5000];
        Arrays.fill(initrd, (byte) 7);
        load(file("vmlinux", SyntheticKernels.elf()), Optional.of(file("initrd", initrd)), "");
        assertThat(memory.readInt(X86Layout.PVH_START_INFO + PvhStartInfo.NR_MODULES)).isEqualTo(1);
        assertThat(memory.readLong(X86Layout.PVH_START_INFO + PvhStartInfo.MODLIST_PADDR)).isEqualTo(X86Layout.PVH_MODLIST);
        long address = memory.readLong(X86Layout.PVH_MODLIST);
        assertThat(memory.readLong(X86Layout.PVH_MODLIST + 8)).isEqualTo(5000);
        assertThat(address).isEqualTo((64 * X86Layout.MIB - 5000) & ~4095L);
        byte[] copied = new byte[5000];
        memory.read(address, copied);
        assertThat(copied).isEqualTo(initrd);
    }

    // ---- refusals ----

    @Test
    void elfWithoutPvhNoteIsRefused() throws Exception {
        assertRefused(b -> b.putInt(SyntheticKernels.NOTES + 24 + 8, 17),
                "ELF vmlinux has no PVH entry point (no XEN_ELFNOTE_PHYS32_ENTRY note); Nimbus boots an ELF kernel only through PVH");
    }

    @Test
    void thirtyTwoBitElfIsRefused() throws Exception {
        assertRefused(b -> b.put(4, (byte) 1), "ELF file is not 64-bit little-endian x86-64 (class 1, data 1, machine 62)");
    }

    @Test
    void elfForAnotherMachineIsRefused() throws Exception {
        assertRefused(b -> b.putShort(18, (short) 183), "ELF file is not 64-bit little-endian x86-64 (class 2, data 1, machine 183)");
    }

    @Test
    void programHeadersPastTheEndAreTruncated() throws Exception {
        assertRefused(b -> b.putLong(32, 0x1fe0), "truncated ELF: program header table at 0x1fe0+112 runs past the end of the file (8192 bytes)");
    }

    @Test
    void absurdProgramHeaderCountIsRefused() throws Exception {
        assertRefused(b -> b.putShort(56, (short) 0), "ELF program header table is absurd (0 entries of 56 bytes)");
    }

    @Test
    void segmentPastTheEndIsTruncated() throws Exception {
        assertRefused(b -> b.putLong(SyntheticKernels.PHDRS + 32, 0x2000),
                "truncated ELF: segment 0 (file offset 0x1000, 0x2000 bytes) runs past the end of the file (8192 bytes)");
    }

    @Test
    void segmentLargerInFileThanInMemoryIsRefused() throws Exception {
        assertRefused(b -> b.putLong(SyntheticKernels.PHDRS + 40, 0x800),
                "ELF segment 0 is absurd (0x1000 bytes in the file, 0x800 in memory at 0x1000000)");
    }

    @Test
    void segmentOutsideRamIsRefused() throws Exception {
        assertRefused(b -> b.putLong(SyntheticKernels.PHDRS + 24, 0x3fff000L),
                "ELF segment at 0x3fff000+0x3000 is outside RAM from 1 MiB to 0x4000000");
    }

    @Test
    void segmentBelowOneMibIsRefused() throws Exception {
        assertRefused(b -> b.putLong(SyntheticKernels.PHDRS + 24, 0x8000L),
                "ELF segment at 0x8000+0x3000 is outside RAM from 1 MiB to 0x4000000");
    }

    @Test
    void entryOutsideTheSegmentsIsRefused() throws Exception {
        assertRefused(b -> b.putLong(SyntheticKernels.NOTES + 24 + 16, 0x200_0000L),
                "PVH entry point 0x2000000 is not inside a loaded segment");
    }

    @Test
    void noteRunningPastItsSegmentIsMalformed() throws Exception {
        assertRefused(b -> b.putInt(SyntheticKernels.NOTES + 4, 0x100),
                "malformed ELF note at file offset 0x200 in segment 1 (runs past the segment)");
    }

    @Test
    void elfWithoutLoadableSegmentIsRefused() throws Exception {
        assertRefused(b -> b.putInt(SyntheticKernels.PHDRS, 6), "ELF file has no loadable segment");
    }

    @Test
    void pvhNoteOfAnOddSizeIsRefused() throws Exception {
        assertRefused(b -> b.putInt(SyntheticKernels.NOTES + 24 + 4, 2), "XEN_ELFNOTE_PHYS32_ENTRY note has 2 bytes of value, not 4 or 8");
    }

    @Test
    void truncatedElfHeaderIsRefused() throws Exception {
        Path kernel = file("vmlinux", Arrays.copyOf(SyntheticKernels.elf(), 40));
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": truncated ELF: 40 bytes, too short for an ELF header");
    }

    @Test
    void commandLineLongerThanItsAreaIsRefused() throws Exception {
        Path kernel = file("vmlinux", SyntheticKernels.elf());
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "y".repeat(70_000))).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": command line is 70000 bytes, longer than the 65535 Nimbus reserves for it");
    }
}
