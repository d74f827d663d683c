package dev.nimbus.arch.riscv64;

import dev.nimbus.arch.riscv64.boot.ImageLoader;
import dev.nimbus.arch.riscv64.boot.Riscv64BootPlan;
import dev.nimbus.arch.riscv64.hart.Registers;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.testsupport.Dtc;
import dev.nimbus.testsupport.HostTools;
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

class Riscv64PlatformTest {
    private static final Riscv64Platform PLATFORM = new Riscv64Platform();
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Dtc.ensure();
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
    void ramStartsAt2GibAndNoDeviceOverlapsRamOrAnotherDevice() {
        MachineLayout layout = PLATFORM.layout(512 * MIB);
        assertThat(layout.ram()).containsExactly(new AddressRange(0x8000_0000L, 512 * MIB));
        List<AddressRange> all = new ArrayList<>(layout.reserved());
        all.add(layout.mmio32());
        all.add(layout.mmio64());
        all.addAll(layout.ram());
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                assertThat(all.get(i).overlaps(all.get(j))).as(all.get(i) + " and " + all.get(j)).isFalse();
            }
        }
        assertThat(layout.mmio64().base()).isGreaterThanOrEqualTo(layout.ram().getLast().end());
    }

    @Test
    void ramThatIsNotAMultipleOf2MibIsRefused() {
        assertThatThrownBy(() -> PLATFORM.layout(65 * MIB + 4096)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 2 MiB");
    }

    @Test
    void theMachineHasAMemoryMapped16550TheGoldfishRtcAndAPciHost() {
        MachineLayout layout = PLATFORM.layout(512 * MIB);
        assertThat(PLATFORM.platformDevices(layout)).containsExactly(
                new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.UART_16550_MMIO, 0x1000_0000L, 10),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.GOLDFISH, 0x0010_1000L, 11),
                new PlatformDevice.PciHost(new AddressRange(0x3000_0000L, 16 * MIB), false));
    }

    @Test
    void theInterruptControllerIsTheAiaWithinTheLimitsAiaIrqChipTakes() {
        IrqChipConfig.Aia aia = PLATFORM.interruptController(PLATFORM.layout(512 * MIB), 2);
        assertThat(aia).isEqualTo(new IrqChipConfig.Aia(0x0d00_0000L, 0x2800_0000L, 96, 255));
        // AiaIrqChip's rules: 1-1023 sources, ids 63-2047 and one less than a multiple of 64
        assertThat(aia.sources()).isBetween(1, 1023);
        assertThat(aia.ids() & 63).isEqualTo(63);
        assertThat(PLATFORM.maxVcpus()).isEqualTo(512);
        assertThatThrownBy(() -> PLATFORM.interruptController(PLATFORM.layout(512 * MIB), 513))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 to 512 harts");
    }

    @Test
    void theFirmwareTableIsOneDeviceTreeThatDtcDecompilesWithoutWarnings() throws Exception {
        FirmwareTables t = PLATFORM.firmwareTables(machine(512 * MIB, 2), "console=ttyS0");
        assertThat(t.tables()).extracting(FirmwareTables.Table::name).containsExactly("fdt");
        HostTools.Result r = Dtc.decompile(dir, t.tables().getFirst().bytes());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).as("dtc's warnings").isEmpty();
    }

    @Test
    void debiansKernelIsLoadedAtTextOffsetAndTheBootHartGetsTheTreeOnceEveryHartIsSetUp() throws Exception {
        MachineDescription m = machine(512 * MIB, 2);
        byte[] initrd = new byte[100_000];
        new java.util.Random(7).nextBytes(initrd);
        Path initramfs = Files.write(dir.resolve("initrd.cpio.gz"), initrd);
        Path kernel = DebianRiscv64Kernel.image();
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            Riscv64BootPlan plan = (Riscv64BootPlan) PLATFORM.loadKernel(memory,
                    new BootImages(kernel, Optional.of(initramfs), "console=ttyS0 quiet"), m);
            assertThat(plan.protocol()).isEqualTo("riscv-image");
            assertThat(plan.entryPoint()).as("RAM base + Debian's text_offset").isEqualTo(0x8020_0000L);
            byte[] head = new byte[4096];
            memory.read(plan.entryPoint(), head);
            assertThat(head).isEqualTo(java.util.Arrays.copyOf(Files.readAllBytes(kernel), 4096));
            assertThat(plan.fdtAddress()).as("the last 2 MiB of RAM (smaller than a GiB)").isEqualTo(0x8000_0000L + 510 * MIB);

            FakeRiscv64Vcpu boot = new FakeRiscv64Vcpu(0);
            FakeRiscv64Vcpu second = new FakeRiscv64Vcpu(1);
            plan.setupVcpu(second, 1);
            assertThat(plan.deviceTreeWritten()).as("hart 0 not set up yet").isFalse();
            plan.setupVcpu(boot, 0);
            assertThat(plan.deviceTreeWritten()).isTrue();

            assertThat(second.calls).as("a secondary hart is left stopped for SBI HSM").isEmpty();
            assertThat(boot.regs.get(Registers.a(0))).as("a0 = hart id").isZero();
            assertThat(boot.regs.get(Registers.a(1))).as("a1 = the device tree").isEqualTo(plan.fdtAddress());
            assertThat(boot.regs.get(Registers.SATP)).as("MMU off").isZero();
            assertThat(boot.regs.get(Registers.PC)).isEqualTo(plan.entryPoint());
            assertThat(boot.calls.getLast()).as("PC last").startsWith(String.format("set %x ", Registers.PC));

            byte[] blob = fdtIn(memory, plan.fdtAddress());
            assertThat(fdtget(blob, "/cpus/cpu@0", "riscv,isa")).isEqualTo("rv64imafdc_sstc_zicbom_zicsr_zifencei");
            assertThat(fdtget(blob, "/chosen", "bootargs")).isEqualTo("console=ttyS0 quiet");
            String[] start = fdtget(blob, "-t", "x", "/chosen", "linux,initrd-start").split(" ");
            String[] end = fdtget(blob, "-t", "x", "/chosen", "linux,initrd-end").split(" ");
            long initrdStart = Long.parseLong(start[0], 16) << 32 | Long.parseLong(start[1], 16);
            long initrdEnd = Long.parseLong(end[0], 16) << 32 | Long.parseLong(end[1], 16);
            assertThat(initrdEnd - initrdStart).isEqualTo(initrd.length);
            assertThat(initrdStart % 4096).isZero();
            assertThat(initrdEnd).isLessThanOrEqualTo(plan.fdtAddress());
            byte[] inRam = new byte[initrd.length];
            memory.read(initrdStart, inRam);
            assertThat(inRam).isEqualTo(initrd);
        }
    }

    @Test
    void inALargeMachineTheTreeStaysInTheFirstGibOfRam() throws Exception {
        MachineDescription m = machine(4096 * MIB, 1);
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            Riscv64BootPlan plan = (Riscv64BootPlan) PLATFORM.loadKernel(memory, new BootImages(DebianRiscv64Kernel.image(), Optional.empty(), ""), m);
            assertThat(plan.fdtAddress()).isEqualTo(0x8000_0000L + ImageLoader.BOOT_WINDOW - ImageLoader.FDT_MAX);
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
            assertThatThrownBy(() -> PLATFORM.loadKernel(memory, new BootImages(DebianRiscv64Kernel.image(), Optional.of(huge), ""), m))
                    .isInstanceOf(BootException.class).hasMessageStartingWith("initramfs " + huge + ": 629145600 bytes do not fit in RAM")
                    .hasMessageNotContaining("\n");
        }
    }

    @Test
    void aFileThatIsNotAKernelIsBadInputNamingIt() throws Exception {
        Path text = Files.writeString(dir.resolve("readme"), "not a kernel\n".repeat(20));
        MachineDescription m = machine(512 * MIB, 1);
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            assertThatThrownBy(() -> PLATFORM.loadKernel(memory, new BootImages(text, Optional.empty(), ""), m))
                    .isInstanceOf(BootException.class).hasMessageStartingWith("kernel " + text + ": not a riscv64 Image")
                    .hasMessageNotContaining("\n");
        }
    }

    @Test
    void aKernelThatDoesNotFitInRamIsBadInput() throws Exception {
        MachineDescription m = machine(64 * MIB, 1);
        byte[] h = Files.readAllBytes(DebianRiscv64Kernel.image());
        ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 80 * MIB);
        Path big = Files.write(dir.resolve("Image"), h);
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            assertThatThrownBy(() -> PLATFORM.loadKernel(memory, new BootImages(big, Optional.empty(), ""), m))
                    .isInstanceOf(BootException.class).hasMessageStartingWith("kernel " + big + ": needs 0x5000000 bytes (image_size)");
        }
    }

    @Test
    void aHartSetUpTwiceIsABug() throws Exception {
        MachineDescription m = machine(512 * MIB, 2);
        try (GuestMemory memory = GuestMemory.allocate(m.layout().ram())) {
            Riscv64BootPlan plan = (Riscv64BootPlan) PLATFORM.loadKernel(memory, new BootImages(DebianRiscv64Kernel.image(), Optional.empty(), ""), m);
            plan.setupVcpu(new FakeRiscv64Vcpu(1), 1);
            assertThatThrownBy(() -> plan.setupVcpu(new FakeRiscv64Vcpu(1), 1)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("hart 1 was set up twice");
        }
    }
}
