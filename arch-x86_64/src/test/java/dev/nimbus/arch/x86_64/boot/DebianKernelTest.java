package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.arch.x86_64.DebianKernel;
import dev.nimbus.arch.x86_64.Machines;
import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The loaders against Debian bookworm's own kernel (the package linux-image-amd64 names), every fact
 * also read with a tool that is not ours: {@code file} for the bzImage, the kernel's own config file,
 * {@code readelf} for the vmlinux inside it.
 */
class DebianKernelTest {
    static Path vmlinuz;
    static Path vmlinux;
    static BzImage image;
    static String config;

    @TempDir
    Path dir;

    @BeforeAll
    static void fetch() throws Exception {
        HostTools.ensurePackages("file", "binutils");
        vmlinuz = DebianKernel.bzImage();
        vmlinux = DebianKernel.vmlinux();
        byte[] file = Files.readAllBytes(vmlinuz);
        image = BzImage.parse(vmlinuz.toString(), Arrays.copyOf(file, BzImage.PROBE_BYTES), file.length);
        config = Files.readString(vmlinuz.resolveSibling(vmlinuz.getFileName().toString().replace("vmlinuz", "config")));
    }

    private static long configValue(String name) {
        Matcher m = Pattern.compile("^" + name + "=(0x[0-9a-f]+|\\d+)$", Pattern.MULTILINE).matcher(config);
        assertThat(m.find()).as(name + " in the kernel config").isTrue();
        return Long.decode(m.group(1));
    }

    @Test
    void kernelVersionStringIsTheOneFileReports() {
        String file = HostTools.run("file", "-b", vmlinuz.toString());
        assertThat(file).startsWith("Linux kernel x86 boot executable bzImage, version " + image.kernelVersion() + ",");
        assertThat(image.kernelVersion()).startsWith(vmlinuz.getFileName().toString().substring("vmlinuz-".length()) + " ");
    }

    @Test
    void bzImageIsRelocatableWhereTheConfigSays() {
        assertThat(config).containsPattern("(?m)^CONFIG_RELOCATABLE=y$").containsPattern("(?m)^CONFIG_X86_64=y$");
        assertThat(image.relocatable()).isTrue();
        assertThat(image.xloadflags() & BzImage.XLF_KERNEL_64).isEqualTo(BzImage.XLF_KERNEL_64);
        assertThat(image.prefAddress()).isEqualTo(configValue("CONFIG_PHYSICAL_START"));
        assertThat(image.kernelAlignment()).isEqualTo(configValue("CONFIG_PHYSICAL_ALIGN"));
        assertThat(image.version()).isGreaterThanOrEqualTo(BzImage.MIN_VERSION);
    }

    @Test
    void payloadIsTheXzStreamTheConfigAsksFor() throws Exception {
        assertThat(config).containsPattern("(?m)^CONFIG_KERNEL_XZ=y$");
        byte[] magic = new byte[6];
        try (FileChannel ch = FileChannel.open(vmlinuz)) {
            ch.read(ByteBuffer.wrap(magic), image.setupBytes() + image.payloadOffset());
        }
        assertThat(HexFormat.of().formatHex(magic)).isEqualTo("fd377a585a00");
        assertThat(HostTools.run("file", "-b", vmlinux.toString())).startsWith("ELF 64-bit LSB executable, x86-64");
    }

    @Test
    void pvhEntryIsTheXenPhys32EntryNoteReadelfShows() throws Exception {
        String notes = HostTools.run("readelf", "-nW", vmlinux.toString());
        Matcher m = Pattern.compile("Xen\\s+0x0000000[48]\\s+(?:Unknown note type: \\(0x00000012\\)|\\S*PHYS32_ENTRY\\S*)\\s+description data: ([0-9a-f ]+)")
                .matcher(notes);
        assertThat(m.find()).as("readelf shows the PVH note").isTrue();
        byte[] desc = HexFormat.ofDelimiter(" ").parseHex(m.group(1).trim());
        long expected = ByteBuffer.wrap(Arrays.copyOf(desc, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(elf().pvhEntry()).hasValue(expected);
    }

    @Test
    void loadSegmentsAreTheOnesReadelfShows() throws Exception {
        String headers = HostTools.run("readelf", "-lW", vmlinux.toString());
        Matcher m = Pattern.compile("(?m)^\\s+LOAD\\s+(0x\\S+)\\s+0x\\S+\\s+(0x\\S+)\\s+(0x\\S+)\\s+(0x\\S+)").matcher(headers);
        List<ElfKernel.Segment> expected = new ArrayList<>();
        while (m.find()) {
            expected.add(new ElfKernel.Segment(Long.decode(m.group(1)), Long.decode(m.group(2)), Long.decode(m.group(3)),
                    Long.decode(m.group(4))));
        }
        assertThat(expected).isNotEmpty();
        assertThat(elf().segments()).isEqualTo(expected);
    }

    private static ElfKernel elf() throws Exception {
        try (FileChannel ch = FileChannel.open(vmlinux)) {
            return ElfKernel.parse(vmlinux.toString(), ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()));
        }
    }

    @Test
    void debianBzImageLoadsAtItsPreferredAddress() throws Exception {
        MachineDescription machine = Machines.machine(256 * X86Layout.MIB, 2);
        try (GuestMemory memory = Machines.memory(machine)) {
            BootPlan plan = Machines.PLATFORM.loadKernel(memory, new BootImages(vmlinuz, Optional.empty(), "console=ttyS0"), machine);
            assertThat(plan.entryPoint()).isEqualTo(image.prefAddress() + 0x200);
            byte[] expected = new byte[4096];
            try (FileChannel ch = FileChannel.open(vmlinuz)) {
                ch.read(ByteBuffer.wrap(expected), image.setupBytes() + 0x200);
            }
            byte[] loaded = new byte[4096];
            memory.read(plan.entryPoint(), loaded);
            assertThat(loaded).isEqualTo(expected);
            assertThat(memory.readInt(X86Layout.ZERO_PAGE + BzImage.CMDLINE_SIZE)).isEqualTo((int) image.cmdlineSize());
        }
    }

    @Test
    void debianVmlinuxBootsThroughPvhWithItsInitramfs() throws Exception {
        Path initrd = dir.resolve("initrd.img");
        Files.write(initrd, new byte[8192]);
        MachineDescription machine = Machines.machine(256 * X86Layout.MIB, 1);
        ElfKernel elf = elf();
        try (GuestMemory memory = Machines.memory(machine)) {
            BootPlan plan = Machines.PLATFORM.loadKernel(memory, new BootImages(vmlinux, Optional.of(initrd), "console=ttyS0"), machine);
            assertThat(plan.protocol()).isEqualTo("pvh");
            assertThat(plan.entryPoint()).isEqualTo(elf.pvhEntry().orElseThrow());
            assertThat(memory.readInt(X86Layout.PVH_START_INFO)).isEqualTo(PvhStartInfo.MAGIC);
            assertThat(memory.readInt(X86Layout.PVH_START_INFO + PvhStartInfo.NR_MODULES)).isEqualTo(1);
            long module = memory.readLong(X86Layout.PVH_MODLIST);
            assertThat(module).isGreaterThanOrEqualTo(elf.end()).isLessThan(256 * X86Layout.MIB);
            ElfKernel.Segment text = elf.segments().getFirst();
            byte[] expected = new byte[4096];
            try (FileChannel ch = FileChannel.open(vmlinux)) {
                ch.read(ByteBuffer.wrap(expected), text.offset());
            }
            byte[] loaded = new byte[4096];
            memory.read(text.physAddress(), loaded);
            assertThat(loaded).isEqualTo(expected);
        }
    }
}
