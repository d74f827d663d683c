package dev.nimbus.arch.x86_64;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.IrqChipMode;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.ArchPlatforms;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class X86_64PlatformTest {
    final X86_64Platform platform = new X86_64Platform();

    @Test
    void serviceLoaderFindsThePlatformForX86_64() {
        assertThat(ArchPlatforms.forArch(Arch.X86_64, getClass().getClassLoader())).isInstanceOf(X86_64Platform.class);
    }

    @Test
    void platformDevicesAreThePcOnes() {
        assertThat(platform.platformDevices(platform.layout(X86Layout.GIB))).containsExactly(
                new SerialPort(SerialPort.Model.UART_16550_PIO, 0x3f8, 4),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.CMOS, 0x70, 8),
                new PlatformDevice.I8042(0x60, 1),
                new PlatformDevice.DebugPort(0x80),
                new PlatformDevice.AcpiPowerControl(0x600),
                new PlatformDevice.PciHost(new dev.nimbus.hypervisor.memory.AddressRange(0xe000_0000L, 1 << 20), true),
                new PlatformDevice.AcpiGenericEventDevice(0xfeb0_0000L, 23));
    }

    @Test
    void powerControlPortsAreFreeOfTheOtherDevices() {
        int base = X86_64Platform.ACPI_POWER_PORT;
        for (int port : new int[] {0x3f8, 0x70, 0x60, 0x64, 0x80, 0xcf8}) {
            assertThat(port < base || port >= base + PlatformDevice.AcpiPowerControl.SIZE).as("port 0x%x", port).isTrue();
        }
    }

    @Test
    void interruptControllerCountIsChecked() {
        assertThatThrownBy(() -> platform.interruptController(platform.layout(X86Layout.GIB), 255))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("x86_64 machines have 1 to 254 vCPUs, not 255");
    }

    static final Set<Capability> KVM = EnumSet.of(Capability.IN_KERNEL_IOAPIC, Capability.SPLIT_IRQCHIP);
    static final Set<Capability> SPLIT_ONLY = EnumSet.of(Capability.SPLIT_IRQCHIP);

    @Test
    void autoKeepsTheInKernelIrqchipWhereTheHypervisorHasOne() {
        MachineLayout layout = platform.layout(X86Layout.GIB);
        assertThat(platform.interruptController(layout, 2, IrqChipMode.AUTO, KVM)).isInstanceOf(IrqChipConfig.X86Legacy.class);
        assertThat(platform.interruptController(layout, 2, IrqChipMode.AUTO, Set.of())).isInstanceOf(IrqChipConfig.X86Legacy.class);
        assertThat(platform.interruptController(layout, 2, IrqChipMode.KERNEL, KVM)).isInstanceOf(IrqChipConfig.X86Legacy.class);
    }

    @Test
    void autoSplitsWhereTheHypervisorHasNoIoapic() {
        assertThat(platform.interruptController(platform.layout(X86Layout.GIB), 2, IrqChipMode.AUTO, SPLIT_ONLY))
                .isEqualTo(new IrqChipConfig.X86Split(X86Layout.KVM_TSS, X86Layout.KVM_IDENTITY_MAP, 24));
    }

    @Test
    void splitIsGivenWhenAskedAndRefusedWhereNotOffered() {
        MachineLayout layout = platform.layout(X86Layout.GIB);
        assertThat(platform.interruptController(layout, 2, IrqChipMode.SPLIT, KVM)).isInstanceOf(IrqChipConfig.X86Split.class);
        assertThatThrownBy(() -> platform.interruptController(layout, 2, IrqChipMode.SPLIT, EnumSet.of(Capability.IN_KERNEL_IOAPIC)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("split: this hypervisor cannot");
    }

    @Test
    void theSplitMachineHasTheIoapicFirstWithTheMadtsId() {
        MachineLayout layout = platform.layout(X86Layout.GIB);
        var devices = platform.platformDevices(layout, new IrqChipConfig.X86Split(X86Layout.KVM_TSS, X86Layout.KVM_IDENTITY_MAP, 24), 3);
        assertThat(devices.getFirst()).isEqualTo(new PlatformDevice.Ioapic(0xfec0_0000L, 3, 24));
        assertThat(devices.subList(1, devices.size())).isEqualTo(platform.platformDevices(layout));
        assertThat(platform.platformDevices(layout, platform.interruptController(layout, 3), 3)).isEqualTo(platform.platformDevices(layout));
    }

    @Test
    void everyWiredDeviceIsOnAnIoapicPin() {
        for (PlatformDevice d : platform.platformDevices(platform.layout(X86Layout.GIB))) {
            assertThat(d.irq()).as("%s", d).isLessThan(X86_64Platform.IOAPIC_PINS);
        }
    }

    @Test
    void maxVcpusLeavesRoomForTheIoapicAndBroadcastIds() {
        assertThat(platform.maxVcpus()).isEqualTo(254);
    }

    @Test
    void vcpuStateDumpNamesTheInstructionPointerAndControlRegisters() {
        FakeX86Vcpu vcpu = new FakeX86Vcpu(1, java.util.List.of());
        vcpu.regs = vcpu.regs.withRip(0xffffffff81000123L).withRsp(0x8ff0);
        String dump = platform.describeVcpuState(vcpu);
        assertThat(dump).startsWith("vCPU 1:").contains("RIP=ffffffff81000123").contains("RSP=0000000000008ff0")
                .contains("CR0=60000010").contains("CS=f000[base ffff0000 limit ffff type b]");
    }

    @Test
    void vcpuStateDumpOfAVcpuThatCannotBeReadSaysSo() {
        FakeX86Vcpu vcpu = new FakeX86Vcpu(0, java.util.List.of()) {
            @Override
            public dev.nimbus.hypervisor.x86.X86Regs getRegs() {
                throw new dev.nimbus.hypervisor.HypervisorException("KVM_GET_REGS failed: EBADF (Bad file descriptor)");
            }
        };
        assertThat(platform.describeVcpuState(vcpu))
                .isEqualTo("vCPU 0: registers cannot be read (KVM_GET_REGS failed: EBADF (Bad file descriptor))");
    }
}
