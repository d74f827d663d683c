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

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The 64-bit Linux boot protocol on a hand-made bzImage: where things go, and every refusal's message. */
class BzImageLoaderTest {
    @TempDir
    Path dir;
    MachineDescription machine = Machines.machine(64 * X86Layout.MIB, 2);
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
        Path kernel = file("vmlinuz", SyntheticKernels.bzImage(tweak));
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "console=ttyS0"))
                .isInstanceOf(BootException.class).hasMessage("kernel " + kernel + ": " + problem);
    }

    @Test
    void protectedModeKernelIsCopiedToThePreferredAddress() throws Exception {
        byte[] image = SyntheticKernels.bzImage();
        load(file("vmlinuz", image), Optional.empty(), "");
        byte[] loaded = new byte[SyntheticKernels.KERNEL_BYTES];
        memory.read(SyntheticKernels.PREF_ADDRESS, loaded);
        assertThat(loaded).isEqualTo(Arrays.copyOfRange(image, SyntheticKernels.SETUP_BYTES, image.length));
    }

    @Test
    void entryIsStartup64At0x200PastTheLoadAddress() throws Exception {
        BootPlan plan = load(file("vmlinuz", SyntheticKernels.bzImage()), Optional.empty(), "");
        assertThat(plan.entryPoint()).isEqualTo(SyntheticKernels.PREF_ADDRESS + 0x200);
        assertThat(plan.protocol()).isEqualTo("linux-bzimage");
    }

    @Test
    void kernelWhosePreferredAddressDoesNotFitIsRelocatedLower() throws Exception {
        BootPlan plan = load(file("vmlinuz", SyntheticKernels.bzImage(b -> b.putLong(BzImage.PREF_ADDRESS, 0x3f00_0000L))),
                Optional.empty(), "");
        assertThat(plan.entryPoint()).isEqualTo(0x20_0000 + 0x200); // 1 MiB rounded up to kernel_alignment
    }

    @Test
    void zeroPageHoldsTheKernelsHeaderWithLoaderFieldsSet() throws Exception {
        byte[] image = SyntheticKernels.bzImage();
        load(file("vmlinuz", image), Optional.empty(), "console=ttyS0");
        long zp = X86Layout.ZERO_PAGE;
        assertThat(memory.readInt(zp + BzImage.HEADER_MAGIC)).isEqualTo(BzImage.MAGIC);
        assertThat(memory.readShort(zp + BzImage.VERSION)).isEqualTo((short) 0x020f);
        assertThat(memory.readByte(zp + BzImage.TYPE_OF_LOADER) & 0xff).isEqualTo(0xff);
        assertThat(memory.readInt(zp + BzImage.CODE32_START)).isEqualTo((int) SyntheticKernels.PREF_ADDRESS);
        assertThat(memory.readLong(zp + ZeroPage.ACPI_RSDP_ADDR)).isEqualTo(X86Layout.ACPI_START);
    }

    @Test
    void commandLineIsWrittenNulTerminatedWhereTheZeroPagePoints() throws Exception {
        load(file("vmlinuz", SyntheticKernels.bzImage()), Optional.empty(), "console=ttyS0 panic=-1");
        long at = memory.readInt(X86Layout.ZERO_PAGE + BzImage.CMD_LINE_PTR) & 0xffffffffL;
        byte[] text = new byte[24];
        memory.read(at, text);
        assertThat(new String(text, 0, 23, StandardCharsets.US_ASCII)).isEqualTo("console=ttyS0 panic=-1\0");
        assertThat(memory.readInt(X86Layout.ZERO_PAGE + ZeroPage.EXT_CMD_LINE_PTR)).isZero();
    }

    @Test
    void initramfsGoesPageAlignedToTheTopOfRamBelowTheHole() throws Exception {
        byte[] initrd = new byte[10_000];
        Arrays.fill(initrd, (byte) 0x5a);
        load(file("vmlinuz", SyntheticKernels.bzImage()), Optional.of(file("initrd.img", initrd)), "");
        long address = memory.readInt(X86Layout.ZERO_PAGE + BzImage.RAMDISK_IMAGE) & 0xffffffffL;
        assertThat(address).isEqualTo((64 * X86Layout.MIB - 10_000) & ~4095L);
        assertThat(memory.readInt(X86Layout.ZERO_PAGE + BzImage.RAMDISK_SIZE)).isEqualTo(10_000);
        byte[] copied = new byte[10_000];
        memory.read(address, copied);
        assertThat(copied).isEqualTo(initrd);
    }

    @Test
    void onAMachineLargerThanTheHoleTheInitramfsStaysBelowItAndHighRamIsInTheMap() throws Exception {
        MachineDescription big = Machines.machine(5 * X86Layout.GIB, 1);
        try (GuestMemory m = Machines.memory(big)) { // MAP_NORESERVE: only touched pages cost anything
            // a kernel that could take its initramfs anywhere below 4 GiB
            byte[] kernel = SyntheticKernels.bzImage(b -> b.putInt(BzImage.INITRD_ADDR_MAX, 0xffff_ffff));
            Machines.PLATFORM.loadKernel(m, new BootImages(file("vmlinuz", kernel),
                    Optional.of(file("initrd.img", new byte[8192])), ""), big);
            assertThat(m.readInt(X86Layout.ZERO_PAGE + BzImage.RAMDISK_IMAGE) & 0xffffffffL).isEqualTo(3 * X86Layout.GIB - 8192);
            int n = m.readByte(X86Layout.ZERO_PAGE + ZeroPage.E820_ENTRIES);
            boolean highRam = false;
            for (int i = 0; i < n; i++) {
                long e = X86Layout.ZERO_PAGE + ZeroPage.E820_TABLE + 20L * i;
                highRam |= m.readLong(e) == 4 * X86Layout.GIB && m.readLong(e + 8) == 2 * X86Layout.GIB && m.readInt(e + 16) == E820Entry.RAM;
            }
            assertThat(highRam).as("RAM above 4 GiB in the e820 map").isTrue();
        }
    }

    @Test
    void initramfsStaysBelowInitrdAddrMax() throws Exception {
        byte[] image = SyntheticKernels.bzImage(b -> b.putInt(BzImage.INITRD_ADDR_MAX, 0x1ff_ffff)); // below 32 MiB
        load(file("vmlinuz", image), Optional.of(file("initrd.img", new byte[4096])), "");
        assertThat(memory.readInt(X86Layout.ZERO_PAGE + BzImage.RAMDISK_IMAGE)).isEqualTo(0x1ff_f000);
    }

    @Test
    void zeroPageMemoryMapHasConventionalMemoryFirmwareTablesAndRamAboveOneMiB() throws Exception {
        load(file("vmlinuz", SyntheticKernels.bzImage()), Optional.empty(), "");
        int n = memory.readByte(X86Layout.ZERO_PAGE + ZeroPage.E820_ENTRIES);
        long[][] map = new long[n][3];
        for (int i = 0; i < n; i++) {
            long e = X86Layout.ZERO_PAGE + ZeroPage.E820_TABLE + 20L * i;
            map[i] = new long[] {memory.readLong(e), memory.readLong(e + 8), memory.readInt(e + 16)};
        }
        assertThat(map[0]).containsExactly(0, 0xa0000, E820Entry.RAM);
        assertThat(map[1]).containsExactly(0xe0000, 0x20000, E820Entry.RESERVED);
        assertThat(map[2]).containsExactly(0x100000, 64 * X86Layout.MIB - 0x100000, E820Entry.RAM);
        assertThat(Arrays.stream(map).skip(3).allMatch(e -> e[2] == E820Entry.RESERVED && e[0] >= X86Layout.HOLE_START)).isTrue();
    }

    @Test
    void acpiAndMpTablesAreWrittenWhereLinuxScans() throws Exception {
        load(file("vmlinuz", SyntheticKernels.bzImage()), Optional.empty(), "");
        byte[] sig = new byte[8];
        memory.read(X86Layout.ACPI_START, sig);
        assertThat(new String(sig, StandardCharsets.US_ASCII)).isEqualTo("RSD PTR ");
        memory.read(X86Layout.MPTABLE_START, sig);
        assertThat(new String(sig, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("_MP_");
    }

    // ---- refusals ----

    @Test
    void missingKernelIsNamed() {
        Path kernel = dir.resolve("nope");
        assertThatThrownBy(() -> load(kernel, Optional.empty(), ""))
                .isInstanceOf(BootException.class).hasMessage("kernel " + kernel + ": cannot read it: no such file");
    }

    @Test
    void directoryGivenAsKernelIsNamed() {
        assertThatThrownBy(() -> load(dir, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + dir + ": cannot read it: Is a directory");
    }

    @Test
    void fileThatIsNeitherBzImageNorElfSaysWhatItStartsWith() throws Exception {
        Path kernel = file("vmlinuz", "MZ this is a PE file".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": not a bzImage (no HdrS magic at 0x202) and not an ELF file (starts with 4d 5a 20 74 68 69 73 20)");
    }

    @Test
    void emptyKernelFileIsNamed() throws Exception {
        Path kernel = file("vmlinuz", new byte[0]);
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": not a bzImage (no HdrS magic at 0x202) and not an ELF file (starts with nothing: the file is empty)");
    }

    @Test
    void headerCutShortIsTruncated() throws Exception {
        Path kernel = file("vmlinuz", Arrays.copyOf(SyntheticKernels.bzImage(), 0x240));
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": truncated bzImage: 576 bytes, too short for a setup header");
    }

    @Test
    void kernelCutShortIsTruncated() throws Exception {
        Path kernel = file("vmlinuz", Arrays.copyOf(SyntheticKernels.bzImage(), 3000));
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "")).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": truncated bzImage: the header says 5120 bytes (setup 1024 + kernel 4096), the file has 3000");
    }

    @Test
    void protocolOlderThan206IsRefused() throws Exception {
        assertRefused(b -> b.putShort(BzImage.VERSION, (short) 0x0205), "bzImage boot protocol 2.05 is too old (2.06 or later needed)");
    }

    @Test
    void protocolWithoutXloadflagsHasNo64BitEntry() throws Exception {
        assertRefused(b -> b.putShort(BzImage.VERSION, (short) 0x020a),
                "bzImage has no 64-bit entry point (boot protocol 2.10 has no xloadflags)");
    }

    @Test
    void clearedXlfKernel64HasNo64BitEntry() throws Exception {
        assertRefused(b -> b.putShort(BzImage.XLOADFLAGS, (short) 0x7e),
                "bzImage has no 64-bit entry point (xloadflags bit XLF_KERNEL_64 is clear)");
    }

    @Test
    void zImageIsRefused() throws Exception {
        assertRefused(b -> b.put(BzImage.LOADFLAGS, (byte) 0),
                "a zImage (loaded below 1 MiB, LOADED_HIGH clear) is not supported, only a bzImage");
    }

    @Test
    void nonRelocatableKernelIsRefused() throws Exception {
        assertRefused(b -> b.put(BzImage.RELOCATABLE_KERNEL, (byte) 0), "bzImage is not relocatable (relocatable_kernel is 0)");
    }

    @Test
    void absurdHeaderLengthIsRefused() throws Exception {
        assertRefused(b -> b.put(BzImage.JUMP + 1, (byte) 0xf0),
                "bzImage setup header ends at 0x2f2 (from the jump at 0x200), outside 0x264..0x290");
    }

    @Test
    void absurdInitSizeIsRefused() throws Exception {
        assertRefused(b -> b.putInt(BzImage.INIT_SIZE, 0x7fff_ffff), "bzImage init_size 0x7fffffff is absurd (over 1 GiB)");
    }

    @Test
    void initSizeSmallerThanTheKernelIsRefused() throws Exception {
        assertRefused(b -> b.putInt(BzImage.INIT_SIZE, 0x800), "bzImage init_size 0x800 is smaller than the kernel itself (0x1000 bytes)");
    }

    @Test
    void kernelAlignmentThatIsNoPowerOfTwoIsRefused() throws Exception {
        assertRefused(b -> b.putInt(BzImage.KERNEL_ALIGNMENT, 0x30_0000),
                "bzImage kernel_alignment 0x300000 is not a power of two between 4 KiB and 1 GiB");
    }

    @Test
    void payloadPastTheKernelIsRefused() throws Exception {
        assertRefused(b -> b.putInt(BzImage.PAYLOAD_LENGTH, 0x1000),
                "bzImage payload at 0x100+0x1000 runs past the kernel's 0x1000 bytes");
    }

    @Test
    void kernelWhoseInitSizeExceedsRamIsRefused() throws Exception {
        assertRefused(b -> b.putInt(BzImage.INIT_SIZE, 0x3f0_0000),
                "needs 0x3f00000 bytes (init_size) from 0x200000, but RAM below the 32-bit hole ends at 0x4000000");
    }

    @Test
    void commandLineLongerThanCmdlineSizeIsRefused() throws Exception {
        Path kernel = file("vmlinuz", SyntheticKernels.bzImage());
        assertThatThrownBy(() -> load(kernel, Optional.empty(), "x".repeat(2048))).isInstanceOf(BootException.class)
                .hasMessage("kernel " + kernel + ": command line is 2048 bytes, longer than the 2047 the kernel accepts (cmdline_size)");
    }

    @Test
    void initramfsLargerThanRamIsRefused() throws Exception {
        Path initrd = dir.resolve("initrd.img");
        try (RandomAccessFile f = new RandomAccessFile(initrd.toFile(), "rw")) {
            f.setLength(100 * X86Layout.MIB); // sparse
        }
        Path kernel = file("vmlinuz", SyntheticKernels.bzImage());
        assertThatThrownBy(() -> load(kernel, Optional.of(initrd), "")).isInstanceOf(BootException.class)
                .hasMessage("initramfs " + initrd + ": 104857600 bytes do not fit in RAM between the kernel's end (0x1100000) and 0x4000000");
    }

    @Test
    void missingInitramfsIsNamed() throws Exception {
        Path initrd = dir.resolve("missing.img");
        Path kernel = file("vmlinuz", SyntheticKernels.bzImage());
        assertThatThrownBy(() -> load(kernel, Optional.of(initrd), "")).isInstanceOf(BootException.class)
                .hasMessage("initramfs " + initrd + ": cannot read it: no such file");
    }

    @Test
    void emptyInitramfsIsRefused() throws Exception {
        Path initrd = file("empty.img", new byte[0]);
        Path kernel = file("vmlinuz", SyntheticKernels.bzImage());
        assertThatThrownBy(() -> load(kernel, Optional.of(initrd), "")).isInstanceOf(BootException.class)
                .hasMessage("initramfs " + initrd + ": the file is empty");
    }
}
