package dev.nimbus.arch.aarch64;

import dev.nimbus.arch.aarch64.boot.Aarch64BootPlan;
import dev.nimbus.arch.aarch64.boot.ImageLoader;
import dev.nimbus.arch.aarch64.boot.RegisterDump;
import dev.nimbus.arch.aarch64.fdt.MachineDeviceTree;
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

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.IntStream;

/**
 * The Nimbus AArch64 machine: an arm64 Linux {@code Image} booted directly (no firmware), described by a
 * flattened device tree, with KVM's in-kernel GICv3, the architected timer and PSCI 0.2 by {@code hvc}.
 *
 * <h2>Guest physical memory</h2>
 * <table>
 *   <caption>Fixed addresses ({@link Aarch64Layout}), QEMU {@code virt}'s where it has the same thing</caption>
 *   <tr><th>Address</th><th>What</th></tr>
 *   <tr><td>0x0800_0000</td><td>GICv3 distributor (64 KiB)</td></tr>
 *   <tr><td>0x0808_0000</td><td>GICv3 ITS (128 KiB): translates the PCI functions' MSIs</td></tr>
 *   <tr><td>0x080a_0000</td><td>GICv3 redistributors, 128 KiB per vCPU (room for 123)</td></tr>
 *   <tr><td>0x0900_0000</td><td>PL011 UART, SPI 1</td></tr>
 *   <tr><td>0x0901_0000</td><td>PL031 RTC, SPI 2</td></tr>
 *   <tr><td>0x1000_0000</td><td>PCI MMIO32 window, to 0x3eff_ffff</td></tr>
 *   <tr><td>0x3f00_0000</td><td>PCI ECAM, 16 buses (the host bridge is device 0 of bus 0)</td></tr>
 *   <tr><td>0x4000_0000</td><td>RAM: the kernel at its {@code text_offset}; in the last 2 MiB of the first
 *       GiB of RAM the device tree, with the initramfs right below it</td></tr>
 *   <tr><td>after RAM</td><td>the 64 GiB MMIO64 window, GiB-aligned</td></tr>
 * </table>
 */
public final class Aarch64Platform implements ArchPlatform {
    @Override
    public Arch arch() {
        return Arch.AARCH64;
    }

    @Override
    public int maxVcpus() {
        return Aarch64Layout.MAX_VCPUS;
    }

    @Override
    public MachineLayout layout(long ramBytes) {
        return Aarch64Layout.layout(ramBytes);
    }

    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout) {
        return List.of(
                new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.PL011, Aarch64Layout.UART, Aarch64Layout.UART_SPI),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.PL031, Aarch64Layout.RTC, Aarch64Layout.RTC_SPI),
                new PlatformDevice.PciHost(layout.pciEcam(), false));
    }

    /**
     * A GICv3 with an ITS, which translates the MSIs of the PCI functions (device id = requester ID). The
     * machine always has its PCI host, so always an ITS; a host whose KVM has none cannot run it (the
     * backend says so when it creates the GIC), rather than boot a guest whose virtio devices get no MSIs.
     */
    @Override
    public IrqChipConfig.GicV3 interruptController(MachineLayout layout, int vcpus) {
        if (vcpus < 1 || vcpus > Aarch64Layout.MAX_VCPUS) {
            throw new IllegalArgumentException("aarch64 machines have 1 to " + Aarch64Layout.MAX_VCPUS + " vCPUs, not " + vcpus);
        }
        return new IrqChipConfig.GicV3(Aarch64Layout.GIC_DISTRIBUTOR, Aarch64Layout.GIC_REDISTRIBUTOR, OptionalLong.of(Aarch64Layout.GIC_ITS), Aarch64Layout.SPIS);
    }

    /** The device tree ({@code fdt}), as {@link #loadKernel} writes it but without an initramfs range. */
    @Override
    public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) {
        return new FirmwareTables(List.of(new FirmwareTables.Table("fdt", deviceTree(machine, cmdline, Optional.empty()))));
    }

    @Override
    public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException {
        interruptController(machine.layout(), machine.vcpus()); // checks the vCPU count
        ImageLoader.Placement p = ImageLoader.load(memory, machine.layout().ram().getFirst(), images,
                initramfs -> deviceTree(machine, images.cmdline(), initramfs));
        return new Aarch64BootPlan(p.kernel(), p.fdt());
    }

    /** PC, PSTATE, SP, x0-x30 and the EL1 exception registers. */
    @Override
    public String describeVcpuState(Vcpu vcpu) {
        return RegisterDump.describe(vcpu);
    }

    private byte[] deviceTree(MachineDescription machine, String cmdline, Optional<AddressRange> initramfs) {
        return MachineDeviceTree.build(new MachineDeviceTree.Contents(
                IntStream.range(0, machine.vcpus()).mapToObj(Aarch64Layout::mpidr).toList(),
                machine.layout(), interruptController(machine.layout(), machine.vcpus()), machine.devices(),
                cmdline, initramfs));
    }
}
