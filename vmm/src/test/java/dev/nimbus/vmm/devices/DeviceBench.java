package dev.nimbus.vmm.devices;

import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.console.HostTerminal;

import java.util.ArrayList;
import java.util.List;

/**
 * What a device manager is given, for tests: 1 MiB of guest memory, a layout with a 32-bit BAR window at
 * {@link #MMIO32}, a VM that records what is asked of it, and by default a PCI host as the only platform
 * device. Closes every device manager it made, then the memory.
 */
final class DeviceBench implements AutoCloseable {
    static final AddressRange MMIO32 = new AddressRange(0xc000_0000L, 0x1000_0000L);
    static final AddressRange ECAM = new AddressRange(0xe000_0000L, 1 << 20);
    static final MachineLayout LAYOUT = new MachineLayout(List.of(new AddressRange(0, 1 << 20)), MMIO32,
            new AddressRange(1L << 36, 1L << 30), ECAM, List.of());
    static final PlatformDevice.PciHost PCI_HOST = new PlatformDevice.PciHost(ECAM, true);

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 1 << 20)));
    final RecordingVm vm;
    final HostTerminal terminal = new HostTerminal();
    private final List<DeviceManager> made = new ArrayList<>();

    DeviceBench() {
        this(false);
    }

    /** With {@code split}: the VM has the split irqchip ({@link RecordingVm#RecordingVm(boolean)}). */
    DeviceBench(boolean split) {
        vm = new RecordingVm(split);
    }

    /** A device manager that has attached {@code config}'s devices over a PCI host alone. */
    DeviceManager attach(VmConfig config) throws ConfigException {
        return attach(config, List.of(PCI_HOST));
    }

    DeviceManager attach(VmConfig config, List<PlatformDevice> specs) throws ConfigException {
        DeviceManager devices = new DeviceManager(terminal);
        made.add(devices);
        devices.attach(config, specs, LAYOUT, memory, vm, vm.chip, PowerControl.IGNORE);
        return devices;
    }

    /** A device manager whose devices are made and not started ({@link DeviceManager#create}), as a restore needs. */
    DeviceManager create(VmConfig config, List<PlatformDevice> specs) throws ConfigException {
        DeviceManager devices = new DeviceManager(terminal);
        made.add(devices);
        devices.create(config, specs, LAYOUT, memory, vm, vm.chip, PowerControl.IGNORE);
        return devices;
    }

    static PciRoot root(DeviceManager devices) {
        return devices.platformDevices(PciRoot.class).getFirst();
    }

    @Override
    public void close() {
        made.reversed().forEach(DeviceManager::close);
        memory.close();
    }
}
