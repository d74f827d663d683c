package dev.nimbus.arch.aarch64;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Aarch64PlatformTest {
    private static final Aarch64Platform PLATFORM = new Aarch64Platform();
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        HostTools.ensurePackages("device-tree-compiler");
    }

    private static MachineDescription machine(long ram, int vcpus) {
        MachineLayout layout = PLATFORM.layout(ram);
        return new MachineDescription(vcpus, layout, PLATFORM.platformDevices(layout));
    }

    private String fdtget(byte[] blob, String... args) throws Exception {
        Path dtb = Files.write(dir.resolve("get.dtb"), blob);
        List<String> command = new ArrayList<>(List.of("fdtget", dtb.toString()));
        command.addAll(List.of(args));
        HostTools.Result r = HostTools.runSeparately(command);
        assertThat(r.exit()).as(String.join(" ", command) + ": " + r.err()).isZero();
        return r.out().strip();
    }

    private static byte[] fdtIn(GuestMemory memory, long address) throws Exception {
        int size = memory.buffer(address + 4, 4).order(ByteOrder.BIG_ENDIAN).getInt();
        byte[] blob = new byte[size];
        memory.read(address, blob);
        return blob;
    }

    @Test
    void ramStartsAtOneGibWithTheDevicesBelowIt() {
        MachineLayout layout = PLATFORM.layout(512 * MIB);
        assertThat(layout.ram()).containsExactly(new AddressRange(0x4000_0000L, 512 * MIB));
        assertThat(layout.reserved()).allMatch(r -> r.end() <= 0x4000_0000L);
        assertThat(layout.mmio64().base()).isGreaterThanOrEqualTo(0x4000_0000L + 512 * MIB);
        for (PlatformDevice d : PLATFORM.platformDevices(layout)) {
            long base = switch (d) {
                case PlatformDevice.SerialPort s -> s.base();
                case PlatformDevice.RealTimeClock c -> c.base();
                case PlatformDevice.PciHost h -> h.ecam().base();
                default -> throw new AssertionError("unexpected aarch64 platform device " + d);
            };
            assertThat(layout.reserved()).anyMatch(r -> r.contains(base));
        }
    }

    @Test
    void theDeviceRangesTheItsAndTheWindowsDoNotOverlap() {
        MachineLayout layout = PLATFORM.layout(512 * MIB);
        List<AddressRange> all = new ArrayList<>(layout.reserved());
        all.add(layout.mmio32());
        all.add(layout.mmio64());
        all.addAll(layout.ram());
        assertThat(all).contains(new AddressRange(Aarch64Layout.GIC_ITS, Aarch64Layout.GIC_ITS_SIZE));
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                AddressRange a = all.get(i);
                AddressRange b = all.get(j);
                assertThat(a.base() < b.end() && b.base() < a.end()).as(a + " overlaps " + b).isFalse();
            }
        }
    }

    @Test
    void theMachineHasAPciHostOnTheLayoutsEcamWithoutConfigPortsAndAnItsForItsMsis() {
        MachineLayout layout = PLATFORM.layout(512 * MIB);
        assertThat(PLATFORM.platformDevices(layout)).contains(new PlatformDevice.PciHost(layout.pciEcam(), false));
        IrqChipConfig.GicV3 gic = PLATFORM.interruptController(layout, 2);
        assertThat(gic.itsBase()).hasValue(Aarch64Layout.GIC_ITS);
    }

    @Test
    void ramThatIsNotWholeTwoMibBlocksIsRefused() {
        assertThatThrownBy(() -> PLATFORM.layout(512 * MIB + 4096)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 2 MiB");
    }

    @Test
    void theGicHasARedistributorForEveryVcpuItAllows() {
        IrqChipConfig.GicV3 gic = PLATFORM.interruptController(PLATFORM.layout(512 * MIB), PLATFORM.maxVcpus());
        assertThat(gic.redistributorBase() + PLATFORM.maxVcpus() * Aarch64Layout.GIC_REDISTRIBUTOR_STRIDE).isLessThanOrEqualTo(Aarch64Layout.UART);
        assertThat(gic.spis() % 32).isZero();
        assertThatThrownBy(() -> PLATFORM.interruptController(PLATFORM.layout(512 * MIB), PLATFORM.maxVcpus() + 1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theFirmwareTableIsOneDeviceTreeThatDtcDecompilesWithoutWarnings() throws Exception {
        FirmwareTables tables = PLATFORM.firmwareTables(machine(512 * MIB, 2), "console=ttyAMA0");
        assertThat(tables.tables()).extracting(FirmwareTables.Table::name).containsExactly("fdt");
        Path dtb = Files.write(dir.resolve("fw.dtb"), tables.tables().getFirst().bytes());
        HostTools.Result r = HostTools.runSeparately(List.of("dtc", "-I", "dtb", "-O", "dts", dtb.toString()));
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).as("dtc's warnings").isEmpty();
    }

    @Test
    void debiansKernelIsLoadedWithItsInitramfsAndDeviceTreeInTheFirstGib() throws Exception {
        Path kernel = DebianArm64Kernel.image();
        byte[] image = Files.readAllBytes(kernel);
        long textOffset = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
        byte[] initrd = new byte[3 * (int) MIB + 123];
        new java.util.Random(7).nextBytes(initrd);
        Path initramfs = Files.write(dir.resolve("initrd.cpio"), initrd);
        MachineDescription m = machine(512 * MIB, 2);
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            BootPlan plan = PLATFORM.loadKernel(memory, new BootImages(kernel, Optional.of(initramfs), "console=ttyAMA0 quiet"), m);

            long load = 0x4000_0000L + textOffset;
            assertThat(plan.entryPoint()).isEqualTo(load);
            assertThat(plan.protocol()).isEqualTo("arm64-image");
            byte[] loaded = new byte[image.length];
            memory.read(load, loaded);
            assertThat(loaded).isEqualTo(image);

            long fdt = 0x6000_0000L - 2 * MIB; // the last 2 MiB of the 512 MiB
            byte[] blob = fdtIn(memory, fdt);
            assertThat(fdtget(blob, "/chosen", "bootargs")).isEqualTo("console=ttyAMA0 quiet");
            String[] start = fdtget(blob, "-t", "x", "/chosen", "linux,initrd-start").split(" ");
            String[] end = fdtget(blob, "-t", "x", "/chosen", "linux,initrd-end").split(" ");
            long initrdStart = Long.parseLong(start[0], 16) << 32 | Long.parseLong(start[1], 16);
            long initrdEnd = Long.parseLong(end[0], 16) << 32 | Long.parseLong(end[1], 16);
            assertThat(initrdEnd - initrdStart).isEqualTo(initrd.length);
            assertThat(initrdStart % 4096).isZero();
            assertThat(initrdEnd).isLessThanOrEqualTo(fdt);
            byte[] inRam = new byte[initrd.length];
            memory.read(initrdStart, inRam);
            assertThat(inRam).isEqualTo(initrd);
        }
    }

    @Test
    void anInitramfsThatDoesNotFitIsBadInputNamingIt() throws Exception {
        Path huge = dir.resolve("huge.cpio");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(600 * MIB); // sparse
        }
        MachineDescription m = machine(512 * MIB, 1);
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            assertThatThrownBy(() -> PLATFORM.loadKernel(memory, new BootImages(DebianArm64Kernel.image(), Optional.of(huge), ""), m))
                    .isInstanceOf(BootException.class).hasMessageStartingWith("initramfs " + huge + ": ").hasMessageNotContaining("\n");
        }
    }

    @Test
    void aKernelThatDoesNotFitInRamIsBadInput() throws Exception {
        MachineDescription m = machine(64 * MIB, 1);
        Path kernel = DebianArm64Kernel.image();
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            // Debian's image_size is about 37 MiB: with 64 MiB of RAM it fits, so shrink RAM below it
            byte[] h = Files.readAllBytes(kernel);
            ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 80 * MIB);
            Path big = Files.write(dir.resolve("Image"), h);
            assertThatThrownBy(() -> PLATFORM.loadKernel(memory, new BootImages(big, Optional.empty(), ""), m))
                    .isInstanceOf(BootException.class).hasMessageStartingWith("kernel " + big + ": needs 0x5000000 bytes (image_size)");
        }
    }
}
