package dev.nimbus.arch.x86_64;

import dev.nimbus.arch.x86_64.acpi.AcpiTables;
import dev.nimbus.arch.x86_64.boot.KernelLoader;
import dev.nimbus.arch.x86_64.emulator.MmioInstructionEmulator;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.IrqChipMode;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The Nimbus x86-64 machine: a PC without a BIOS, booted straight into Linux (the 64-bit Linux boot
 * protocol for a bzImage, PVH for an ELF vmlinux), described by hardware-reduced ACPI and an MP table,
 * with KVM's in-kernel PIC/IOAPIC/LAPIC/PIT, or (the split irqchip, {@code --platform irqchip=split}) with the
 * local APICs in the hypervisor and a 24-pin IOAPIC the VMM emulates, and no PIC or PIT at all.
 *
 * <h2>Guest physical memory</h2>
 * <table>
 *   <caption>Fixed addresses ({@link X86Layout})</caption>
 *   <tr><th>Address</th><th>What</th><th>Why there</th></tr>
 *   <tr><td>0x0000_0500</td><td>boot GDT (null, null, code 0x10, data 0x18, TSS 0x20)</td>
 *       <td>above the real-mode IVT and BIOS data area, as in Firecracker and Cloud Hypervisor</td></tr>
 *   <tr><td>0x0000_0540</td><td>boot IDT (empty)</td><td>after the GDT</td></tr>
 *   <tr><td>0x0000_6000</td><td>PVH {@code hvm_start_info}; module list at 0x6040, memory map at 0x6100</td>
 *       <td>Cloud Hypervisor's places (its memory map shares the zero page's page; ours does not)</td></tr>
 *   <tr><td>0x0000_7000</td><td>zero page ({@code boot_params})</td><td>Firecracker and Cloud Hypervisor</td></tr>
 *   <tr><td>0x0000_8ff0</td><td>boot stack pointer (stack below it)</td><td>Firecracker and Cloud Hypervisor</td></tr>
 *   <tr><td>0x0000_9000</td><td>PML4, then PDPT at 0xa000, four page directories at 0xb000-0xefff</td>
 *       <td>Firecracker's PML4 and PDPT; four PDs so all of the first 4 GiB is identity-mapped</td></tr>
 *   <tr><td>0x0002_0000</td><td>kernel command line (64 KiB)</td><td>Firecracker and Cloud Hypervisor</td></tr>
 *   <tr><td>0x000a_0000</td><td>end of conventional memory (e820: RAM below, nothing from here to 1 MiB but the tables)</td>
 *       <td>the PC's 640 KiB</td></tr>
 *   <tr><td>0x000e_0000</td><td>ACPI: RSDP, then DSDT, FADT, MADT, (MCFG), XSDT</td>
 *       <td>the start of the range Linux scans for the RSDP (the zero page and the PVH start info point at it too)</td></tr>
 *   <tr><td>0x000f_0000</td><td>MP floating pointer and configuration table</td>
 *       <td>in the BIOS range Linux scans for "_MP_"; unlike the EBDA's last KiB it holds 254 vCPUs</td></tr>
 *   <tr><td>0x0010_0000</td><td>RAM for the kernel: a bzImage at its {@code pref_address} (16 MiB for Debian)
 *       when that fits, a vmlinux at its segments' physical addresses; the initramfs at the top of RAM
 *       below the hole</td><td>the boot protocols</td></tr>
 *   <tr><td>0xc000_0000</td><td>32-bit device hole to 4 GiB: PCI MMIO32 window 0xc000_0000-0xdfff_ffff,
 *       ECAM 0xe000_0000-0xefff_ffff, IOAPIC 0xfec0_0000, LAPIC 0xfee0_0000, KVM identity map page
 *       0xfeff_c000 and TSS 0xfeff_d000-0xfeff_ffff</td><td>Cloud Hypervisor's 3 GiB hole; QEMU's KVM
 *       identity-map/TSS addresses (Cloud Hypervisor puts them after its ECAM at 0xf800_0000; KVM's own
 *       default is 0xfffb_c000)</td></tr>
 *   <tr><td>0x1_0000_0000</td><td>RAM above 3 GiB continues here, then the 64 GiB MMIO64 window at the
 *       next GiB boundary</td><td>the PC convention</td></tr>
 * </table>
 * The boot structures below 0x2_0000 and the command line are read by the kernel early and are usable RAM
 * for it afterwards (Firecracker and Cloud Hypervisor do the same; Linux keeps the first 64 KiB to itself
 * anyway). The firmware tables and the device windows are {@link MachineLayout#reserved()} and e820
 * "reserved".
 *
 * <h2>Platform devices</h2>
 * COM1 (16550A at 0x3f8, IRQ 4), the CMOS RTC (0x70, IRQ 8), the i8042 (0x60/0x64, IRQ 1; reset by
 * command 0xfe), the debug port 0x80 and the ACPI power control ports at {@value #ACPI_POWER_PORT}
 * (sleep control, sleep status, reset; see {@link PlatformDevice.AcpiPowerControl}). 0x600 is free on a
 * PC without a chipset PM block (QEMU's PIIX4 puts its PM registers there; Nimbus has none). The power
 * button is an ACPI generic event device (a hardware-reduced machine has no fixed one): its event
 * register at {@link X86Layout#ACPI_GED_ADDRESS}, interrupt GSI {@value #ACPI_GED_GSI}, and
 * {@code \_SB.PWRB} in the DSDT. The PCI host bridge: ECAM for bus 0 and ports 0xcf8-0xcff.
 */
public final class X86_64Platform implements ArchPlatform {
    /** The first port of the ACPI sleep control / sleep status / reset registers. */
    public static final int ACPI_POWER_PORT = 0x600;
    /**
     * The generic event device's interrupt: the IOAPIC's last pin, clear of the ISA lines (0-15) and of
     * 16-19, where PCI INTA-INTD would go.
     */
    public static final int ACPI_GED_GSI = 23;
    /** The pins of the IOAPIC: GSIs 0-23, the ISA lines and {@link #ACPI_GED_GSI} among them. */
    public static final int IOAPIC_PINS = 24;
    /** APIC ids 0..253: 0xff is the broadcast id and the IOAPIC takes the id after the last vCPU. */
    public static final int MAX_VCPUS = 254;

    @Override
    public Arch arch() {
        return Arch.X86_64;
    }

    @Override
    public int maxVcpus() {
        return MAX_VCPUS;
    }

    @Override
    public MachineLayout layout(long ramBytes) {
        return X86Layout.layout(ramBytes);
    }

    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout) {
        return List.of(
                new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.UART_16550_PIO, 0x3f8, 4),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.CMOS, 0x70, 8),
                new PlatformDevice.I8042(0x60, 1),
                new PlatformDevice.DebugPort(0x80),
                new PlatformDevice.AcpiPowerControl(ACPI_POWER_PORT),
                new PlatformDevice.PciHost(new AddressRange(layout.pciEcam().base(), PlatformDevice.PciHost.ECAM_BUS_SIZE), true),
                new PlatformDevice.AcpiGenericEventDevice(X86Layout.ACPI_GED_ADDRESS, ACPI_GED_GSI));
    }

    @Override
    public IrqChipConfig interruptController(MachineLayout layout, int vcpus) {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("x86_64 machines have 1 to " + MAX_VCPUS + " vCPUs, not " + vcpus);
        }
        return new IrqChipConfig.X86Legacy(X86Layout.KVM_TSS, X86Layout.KVM_IDENTITY_MAP, true);
    }

    /**
     * {@link IrqChipMode#KERNEL}: the in-kernel PIC, IOAPIC and PIT. {@link IrqChipMode#SPLIT}: the split irqchip,
     * the IOAPIC in the VMM ({@link #IOAPIC_PINS} pins). {@link IrqChipMode#AUTO}: in the kernel, unless the
     * hypervisor has no in-kernel IOAPIC and offers the split (MSHV).
     */
    @Override
    public IrqChipConfig interruptController(MachineLayout layout, int vcpus, IrqChipMode mode, Set<Capability> offered) {
        IrqChipConfig kernel = interruptController(layout, vcpus);
        boolean split = switch (mode) {
            case KERNEL -> false;
            case SPLIT -> true;
            case AUTO -> offered.contains(Capability.SPLIT_IRQCHIP) && !offered.contains(Capability.IN_KERNEL_IOAPIC);
        };
        if (split && !offered.contains(Capability.SPLIT_IRQCHIP)) {
            throw new IllegalArgumentException("split: this hypervisor cannot leave the IOAPIC to the VMM"
                    + " (no split irqchip; KVM has it from Linux 4.5)");
        }
        return split ? new IrqChipConfig.X86Split(X86Layout.KVM_TSS, X86Layout.KVM_IDENTITY_MAP, IOAPIC_PINS) : kernel;
    }

    /**
     * The machine's devices; with the split irqchip the IOAPIC comes first, at {@link X86Layout#IOAPIC_ADDRESS}
     * with the id the MADT gives it, so the devices after it are wired to its pins.
     */
    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout, IrqChipConfig chip, int vcpus) {
        if (!(chip instanceof IrqChipConfig.X86Split split)) {
            return platformDevices(layout);
        }
        List<PlatformDevice> out = new ArrayList<>();
        out.add(new PlatformDevice.Ioapic(X86Layout.IOAPIC_ADDRESS, AcpiTables.ioapicId(vcpus), split.ioapicPins()));
        out.addAll(platformDevices(layout));
        return List.copyOf(out);
    }

    /** The ACPI tables by signature (RSDP, XSDT, FACP, DSDT, APIC), exactly as {@link #loadKernel} writes them. The command line is not part of them on x86-64. */
    @Override
    public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) {
        return new FirmwareTables(acpi(machine).stream()
                .map(t -> new FirmwareTables.Table(t.signature(), t.bytes())).toList());
    }

    @Override
    public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException {
        if (machine.vcpus() > MAX_VCPUS) {
            throw new IllegalArgumentException("x86_64 machines have at most " + MAX_VCPUS + " vCPUs, not " + machine.vcpus());
        }
        return KernelLoader.load(memory, images, machine, acpi(machine));
    }

    /** RIP, RSP, the general-purpose, control and segment registers, GDT and IDT. */
    /** The MMIO instruction emulator, for a backend whose hypervisor leaves MMIO instructions to user space (MSHV). */
    @Override
    public VmOptions vmOptions() {
        return VmOptions.defaults().withInstructionEmulator(MmioInstructionEmulator.INSTANCE);
    }

    @Override
    public String describeVcpuState(Vcpu vcpu) {
        return RegisterDump.describe(vcpu);
    }

    /** The tables, with PCI0 in the DSDT and an MCFG when the machine has a PCI host bridge. */
    private static List<AcpiTables.Placed> acpi(MachineDescription machine) {
        MachineLayout layout = machine.layout();
        Optional<AcpiTables.Pci> pci = machine.devices().stream()
                .filter(PlatformDevice.PciHost.class::isInstance).map(PlatformDevice.PciHost.class::cast).findFirst()
                .map(h -> new AcpiTables.Pci(h.ecam(), h.lastBus(), layout.mmio32(), layout.mmio64()));
        return AcpiTables.build(machine.vcpus(), machine.devices(), pci, X86Layout.ACPI_START, X86Layout.ACPI_END);
    }
}
