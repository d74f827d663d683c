package dev.nimbus.arch.riscv64;

import dev.nimbus.arch.riscv64.boot.ImageLoader;
import dev.nimbus.arch.riscv64.boot.Riscv64BootPlan;
import dev.nimbus.arch.riscv64.fdt.Riscv64DeviceTree;
import dev.nimbus.arch.riscv64.hart.HartFeatures;
import dev.nimbus.arch.riscv64.hart.RegisterDump;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The Nimbus riscv64 machine: a RISC-V Linux {@code Image} booted directly in S-mode (KVM is the SBI
 * implementation, so there is no firmware), described by a flattened device tree, with KVM's in-kernel AIA
 * (an APLIC in MSI mode and an IMSIC interrupt file per hart).
 *
 * <h2>Guest physical memory</h2>
 * <table>
 *   <caption>Fixed addresses ({@link Riscv64Layout}), QEMU {@code virt}'s where it has the same thing</caption>
 *   <tr><th>Address</th><th>What</th></tr>
 *   <tr><td>0x0010_1000</td><td>Goldfish RTC (4 KiB), APLIC source 11</td></tr>
 *   <tr><td>0x0d00_0000</td><td>APLIC, supervisor level, MSI mode (16 KiB)</td></tr>
 *   <tr><td>0x1000_0000</td><td>ns16550a UART (256 bytes, one-byte registers), APLIC source 10</td></tr>
 *   <tr><td>0x2800_0000</td><td>IMSIC interrupt files, supervisor level, 4 KiB per hart (room for 512)</td></tr>
 *   <tr><td>0x3000_0000</td><td>PCI ECAM, 16 buses (the host bridge is device 0 of bus 0)</td></tr>
 *   <tr><td>0x4000_0000</td><td>PCI MMIO32 window, to 0x7fff_ffff</td></tr>
 *   <tr><td>0x8000_0000</td><td>RAM: the kernel at its {@code text_offset} (Debian's: 2 MiB); in the last 2 MiB of
 *       the first GiB of RAM the device tree, with the initramfs right below it</td></tr>
 *   <tr><td>after RAM</td><td>the 64 GiB MMIO64 window, GiB-aligned</td></tr>
 * </table>
 */
public final class Riscv64Platform implements ArchPlatform {
    /**
     * The hart {@link #firmwareTables} describes, having no vCPU to ask: RV64GC with Sv39 and QEMU virt's 10 MHz
     * timebase. The tree a boot writes ({@link #loadKernel}) has each hart's own features instead.
     */
    public static final HartFeatures HART_WITHOUT_A_VCPU = new HartFeatures("imafdc", List.of("zicsr", "zifencei"),
            HartFeatures.DEFAULT_MMU_TYPE, 10_000_000, OptionalInt.empty(), OptionalInt.empty());

    @Override
    public Arch arch() {
        return Arch.RISCV64;
    }

    @Override
    public int maxVcpus() {
        return Riscv64Layout.MAX_VCPUS;
    }

    @Override
    public MachineLayout layout(long ramBytes) {
        return Riscv64Layout.layout(ramBytes);
    }

    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout) {
        return List.of(
                new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.UART_16550_MMIO, Riscv64Layout.UART, Riscv64Layout.UART_IRQ),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.GOLDFISH, Riscv64Layout.RTC, Riscv64Layout.RTC_IRQ),
                new PlatformDevice.PciHost(layout.pciEcam(), false));
    }

    /**
     * The AIA: an APLIC with {@value Riscv64Layout#APLIC_SOURCES} wired sources and an IMSIC file of
     * {@value Riscv64Layout#IMSIC_IDS} identities per hart, where {@code AiaIrqChip} creates them.
     */
    @Override
    public IrqChipConfig.Aia interruptController(MachineLayout layout, int vcpus) {
        if (vcpus < 1 || vcpus > Riscv64Layout.MAX_VCPUS) {
            throw new IllegalArgumentException("riscv64 machines have 1 to " + Riscv64Layout.MAX_VCPUS + " harts, not " + vcpus);
        }
        return new IrqChipConfig.Aia(Riscv64Layout.APLIC, Riscv64Layout.IMSIC, Riscv64Layout.APLIC_SOURCES, Riscv64Layout.IMSIC_IDS);
    }

    /**
     * The device tree ({@code fdt}) as {@link #loadKernel} writes it, but without an initramfs range and with
     * every hart described as {@link #HART_WITHOUT_A_VCPU}.
     */
    @Override
    public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) {
        return new FirmwareTables(List.of(new FirmwareTables.Table("fdt",
                deviceTree(machine, cmdline, Optional.empty(), Collections.nCopies(machine.vcpus(), HART_WITHOUT_A_VCPU)))));
    }

    @Override
    public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException {
        interruptController(machine.layout(), machine.vcpus()); // checks the hart count
        ImageLoader.Placement p = ImageLoader.load(memory, machine.layout().ram().getFirst(), images);
        // the plan lives as long as the VM: it keeps what the tree needs, not the placement (which holds the
        // kernel's bytes, tens of MiB of heap)
        Optional<AddressRange> initramfs = p.initramfs();
        String cmdline = images.cmdline();
        return new Riscv64BootPlan(memory, p.kernel(), p.fdt(), ImageLoader.FDT_MAX, machine.vcpus(),
                harts -> deviceTree(machine, cmdline, initramfs, harts));
    }

    @Override
    public String describeVcpuState(Vcpu vcpu) {
        return RegisterDump.describe(vcpu);
    }

    /** The tree for {@code harts}' features as their vCPUs report them. */
    public byte[] deviceTree(MachineDescription machine, String cmdline, Optional<AddressRange> initramfs, List<HartFeatures> harts) {
        return Riscv64DeviceTree.build(new Riscv64DeviceTree.Contents(harts, machine.layout(),
                interruptController(machine.layout(), machine.vcpus()), machine.devices(), cmdline, initramfs));
    }
}
