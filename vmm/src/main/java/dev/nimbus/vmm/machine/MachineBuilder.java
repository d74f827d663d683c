package dev.nimbus.vmm.machine;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestRegion;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.config.VmConfig;

import javax.inject.Inject;
import java.util.ArrayList;
import java.util.List;

/**
 * Assembles a {@link Machine} from a {@link VmConfig}: the one place that creates the VM, its memory,
 * interrupt controller, vCPUs and devices, in the order the hypervisor needs. What differs between
 * architectures comes from the {@link ArchPlatform}; this class has no architecture branches.
 */
public final class MachineBuilder {
    private final Hypervisor hypervisor;
    private final ArchPlatform arch;
    private final PlatformDeviceWiring wiring;
    private final VirtioWiring virtio;

    @Inject
    public MachineBuilder(Hypervisor hypervisor, ArchPlatform arch, PlatformDeviceWiring wiring, VirtioWiring virtio) {
        this.hypervisor = hypervisor;
        this.arch = arch;
        this.wiring = wiring;
        this.virtio = virtio;
    }

    /** Checks the configuration against this host before anything is created (vCPU count against both limits). */
    public void validate(VmConfig config) throws ConfigException {
        int max = Math.min(hypervisor.maxVcpus(), arch.maxVcpus());
        if (config.cpus().boot() > max) {
            throw new ConfigException(Schema.CPUS_BOOT, 0, config.cpus().boot() + " is more than this host supports ("
                    + max + " with " + hypervisor.name() + " on " + arch.arch().id() + ")");
        }
    }

    /**
     * Builds the machine, ready to {@link Machine#start()}.
     *
     * @throws BootException when the kernel or initramfs cannot be loaded (bad input: exit code 2)
     * @throws ConfigException when the configuration does not fit this host
     */
    public Machine build(VmConfig config, PowerControl power) throws BootException, ConfigException {
        validate(config);
        MachineLayout layout = arch.layout(config.memory().size());
        List<PlatformDevice> devices = wiring.select(arch.platformDevices(layout), config);
        MachineDescription description = new MachineDescription(config.cpus().boot(), layout, devices);

        List<AutoCloseable> opened = new ArrayList<>();
        PlatformDeviceWiring.Wired wired = null;
        GuestMemory memory = GuestMemory.allocate(layout.ram());
        Vm vm = null;
        try {
            // the kernel and initramfs first: a boot refused for its images creates no VM and opens, creates or
            // truncates nothing on the host (console files, taps, disk locks come after)
            BootPlan plan = arch.loadKernel(memory, new BootImages(config.payload().kernel(),
                    config.payload().initramfs(), config.payload().cmdline()), description);
            vm = hypervisor.createVm(VmOptions.defaults());
            int slot = 0;
            for (GuestRegion r : memory.regions()) {
                vm.setMemoryRegion(MemoryRegion.ram(slot++, r));
            }
            IrqChip irqChip = vm.createIrqChip(arch.interruptController(layout, config.cpus().boot()));
            List<Vcpu> vcpus = new ArrayList<>();
            for (int i = 0; i < config.cpus().boot(); i++) {
                vcpus.add(vm.createVcpu(i));
            }
            irqChip.finishSetup();

            Buses buses = new Buses();
            wired = wiring.attach(devices, layout, buses, irqChip, config, power);
            opened.addAll(wired.resources());
            VirtioWiring.Wired virtioDevices = virtio.attach(config, wired.devices(), memory, vm, irqChip);
            opened.addAll(virtioDevices.resources());

            return new Machine(vm, memory, vcpus, buses, plan, arch, wired.devices(), virtioDevices.devices(), opened);
        } catch (BootException | ConfigException | RuntimeException e) {
            PlatformDeviceWiring.closeAll(opened);
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }
}
