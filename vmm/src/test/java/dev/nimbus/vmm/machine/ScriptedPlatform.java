package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
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

import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/** A machine model with a UART, an i8042 and ACPI power registers, and a kernel "loader" that loads nothing. */
public final class ScriptedPlatform implements ArchPlatform {
    public static final int COM1 = 0x3f8;
    public static final int I8042 = 0x60;
    public static final int ACPI = 0x600;
    /** The power button's event register and interrupt. */
    public static final long GED = 0xfeb0_0000L;
    public static final int GED_GSI = 23;

    /** Whether the machine has an ACPI power button (a generic event device); x86-64's has. */
    public volatile boolean powerButton = true;

    public final AtomicInteger kernelsLoaded = new AtomicInteger();
    public volatile BootException loadFailure;

    @Override
    public Arch arch() {
        return Arch.host();
    }

    @Override
    public int maxVcpus() {
        return 4;
    }

    @Override
    public MachineLayout layout(long ramBytes) {
        AddressRange none = new AddressRange(0xd000_0000L, 0x1000);
        return new MachineLayout(List.of(new AddressRange(0, ramBytes)), none, none, none, List.of());
    }

    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout) {
        List<PlatformDevice> devices = new java.util.ArrayList<>(List.of(
                new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.UART_16550_PIO, COM1, 4),
                new PlatformDevice.I8042(I8042, 1), new PlatformDevice.AcpiPowerControl(ACPI)));
        if (powerButton) {
            devices.add(new PlatformDevice.AcpiGenericEventDevice(GED, GED_GSI));
        }
        return List.copyOf(devices);
    }

    @Override
    public IrqChipConfig interruptController(MachineLayout layout, int vcpus) {
        return new IrqChipConfig.X86Legacy(0xfffb_c000L, 0xfffb_f000L, true);
    }

    /** The userspace IOAPIC's window, when the machine has one. */
    public static final long IOAPIC = 0xfec0_0000L;

    /** {@code irqchip=split} where the backend offers it: the split irqchip, with the IOAPIC in the VMM. */
    @Override
    public IrqChipConfig interruptController(MachineLayout layout, int vcpus, IrqChipMode mode, Set<Capability> offered) {
        if (mode == IrqChipMode.SPLIT && offered.contains(Capability.SPLIT_IRQCHIP)) {
            return new IrqChipConfig.X86Split(0xfffb_c000L, 0xfffb_f000L, 24);
        }
        return ArchPlatform.super.interruptController(layout, vcpus, mode, offered);
    }

    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout, IrqChipConfig chip, int vcpus) {
        if (!(chip instanceof IrqChipConfig.X86Split)) {
            return platformDevices(layout);
        }
        List<PlatformDevice> devices = new java.util.ArrayList<>(List.of(new PlatformDevice.Ioapic(IOAPIC, vcpus, 24)));
        devices.addAll(platformDevices(layout));
        return List.copyOf(devices);
    }

    @Override
    public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) {
        return new FirmwareTables(List.of());
    }

    @Override
    public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException {
        if (loadFailure != null) {
            throw loadFailure;
        }
        kernelsLoaded.incrementAndGet();
        return new BootPlan() {
            @Override
            public String protocol() {
                return "test";
            }

            @Override
            public long entryPoint() {
                return 0;
            }

            @Override
            public void setupVcpu(Vcpu vcpu, int index) {
                ((ScriptedBackend.ScriptedVcpu) vcpu).setUp = true;
            }
        };
    }

    @Override
    public String describeVcpuState(Vcpu vcpu) {
        return "RIP=0xdeadbeef (vCPU " + vcpu.id() + ")";
    }
}
