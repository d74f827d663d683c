package dev.nimbus.vmm.machine;

import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.MemoryBacking;
import dev.nimbus.hypervisor.memory.GuestRegion;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.Field;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.devices.DeviceManager;
import dev.nimbus.vmm.snapshot.Snapshot;
import dev.nimbus.vmm.snapshot.SnapshotException;

import javax.inject.Inject;
import javax.inject.Provider;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Assembles a {@link Machine} from a {@link VmConfig}: the one place that creates the VM, its memory,
 * interrupt controller and vCPUs, in the order the hypervisor needs, and has a new {@link DeviceManager} make
 * the devices. What differs between architectures comes from the {@link ArchPlatform}; this class has no
 * architecture branches.
 */
public final class MachineBuilder {
    private final Hypervisor hypervisor;
    private final ArchPlatform arch;
    private final Provider<DeviceManager> deviceManagers;

    /** {@code deviceManagers} gives a new device manager for each machine built. */
    @Inject
    public MachineBuilder(Hypervisor hypervisor, ArchPlatform arch, Provider<DeviceManager> deviceManagers) {
        this.hypervisor = hypervisor;
        this.arch = arch;
        this.deviceManagers = deviceManagers;
    }

    /**
     * Checks the configuration against this host before anything is created: the vCPU count against both
     * limits, the address bits against the machine's layout.
     */
    public void validate(VmConfig config) throws ConfigException {
        validate(config, arch.layout(config.memory().size()));
    }

    private void validate(VmConfig config, MachineLayout layout) throws ConfigException {
        long top = Math.max(layout.mmio64().end(), layout.ram().getLast().end());
        int bits = config.cpus().maxPhysBits();
        if (bits < 64 && top > 1L << bits) {
            throw new ConfigException(Schema.CPUS_MAX_PHYS_BITS, 0, String.format(
                    "%d bits address %d GiB, but this machine's memory and 64-bit PCI window reach 0x%x (%d bits)",
                    bits, (1L << bits) >> 30, top, 64 - Long.numberOfLeadingZeros(top - 1)));
        }
        int max = Math.min(hypervisor.maxVcpus(), arch.maxVcpus());
        if (config.cpus().boot() > max) {
            throw new ConfigException(Schema.CPUS_BOOT, 0, config.cpus().boot() + " is more than this host supports ("
                    + max + " with " + hypervisor.name() + " on " + arch.arch().id() + ")");
        }
        interruptController(config, layout);
    }

    /** The interrupt controller the arch asks this hypervisor for, as {@code --platform irqchip} wants it. */
    private IrqChipConfig interruptController(VmConfig config, MachineLayout layout) throws ConfigException {
        try {
            return arch.interruptController(layout, config.cpus().boot(), config.platform().irqchip(), hypervisor.capabilities());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(Schema.PLATFORM_IRQCHIP, 0, e.getMessage());
        }
    }

    /**
     * Builds the machine, ready to {@link Machine#start()}.
     *
     * @throws BootException when the kernel or initramfs cannot be loaded (bad input: exit code 2)
     * @throws ConfigException when the configuration does not fit this host
     */
    public Machine build(VmConfig config, PowerControl power) throws BootException, ConfigException {
        MachineLayout layout = arch.layout(config.memory().size());
        validate(config, layout);
        IrqChipConfig chip = interruptController(config, layout);
        List<PlatformDevice> specs = DeviceManager.select(arch.platformDevices(layout, chip, config.cpus().boot()), config);
        MachineDescription description = new MachineDescription(config.cpus().boot(), layout, specs, config.platform().identity(),
                config.cpus().maxPhysBits());

        DeviceManager devices = deviceManagers.get();
        GuestMemory memory = allocate(layout, config.memory());
        Vm vm = null;
        try {
            // the kernel and initramfs first: a boot refused for its images creates no VM and opens, creates or
            // truncates nothing on the host (console files, taps, disk locks come after)
            BootPlan plan = arch.loadKernel(memory, new BootImages(config.payload().kernel(),
                    config.payload().initramfs(), config.payload().cmdline()), description);
            Hardware hw = hardware(memory, chip, config.cpus().boot());
            vm = hw.vm();
            devices.attach(config, specs, layout, memory, vm, hw.irqChip(), power);
            return new Machine(vm, memory, hw.vcpus(), plan, arch, devices);
        } catch (BootException | ConfigException | RuntimeException e) {
            devices.close();
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    /** The architecture this builder makes machines for ({@code x86_64}), as a snapshot's manifest names it. */
    public String archId() {
        return arch.arch().id();
    }

    /** The hypervisor this builder makes machines on ({@code kvm}), as a snapshot's manifest names it. */
    public String hypervisorName() {
        return hypervisor.name();
    }

    /** The guest RAM ranges of a machine of {@code config}: what a snapshot's memory file holds, in order. */
    public List<AddressRange> ramRanges(VmConfig config) {
        return arch.layout(config.memory().size()).ram();
    }

    /**
     * Builds the machine a snapshot saved, ready to {@link Machine#startPaused()} (its vCPUs put their state
     * back on their threads) and then {@link Machine#restoreParked}: guest RAM mapped from the snapshot's
     * memory file, the same VM, interrupt controller, vCPUs and devices as {@link #build} makes for the
     * configuration, and every device's saved state put back before any of them runs. No kernel is loaded.
     *
     * @throws ConfigException   when the configuration does not fit this host
     * @throws SnapshotException when the snapshot's memory does not fit the configuration's layout or its file
     *                           cannot be mapped, or a device refuses its state
     */
    public Machine restore(Snapshot.Saved saved, boolean prefault, PowerControl power) throws ConfigException, SnapshotException {
        VmConfig config = saved.config();
        MachineLayout layout = arch.layout(config.memory().size());
        validate(config, layout);
        if (!layout.ram().equals(saved.ranges())) {
            throw new SnapshotException(saved.directory().resolve(Snapshot.MANIFEST) + ": memory.ranges " + saved.ranges()
                    + " are not this machine's RAM for " + config.memory().size() + " bytes (" + layout.ram() + ")");
        }
        IrqChipConfig chip = interruptController(config, layout);
        List<PlatformDevice> specs = DeviceManager.select(arch.platformDevices(layout, chip, config.cpus().boot()), config);
        DeviceManager devices = deviceManagers.get();
        GuestMemory memory = restoredMemory(saved, layout, config.memory(), prefault);
        Vm vm = null;
        try {
            Hardware hw = hardware(memory, chip, config.cpus().boot());
            vm = hw.vm();
            devices.create(config, specs, layout, memory, vm, hw.irqChip(), power);
            try {
                devices.restore(saved.state().devices());
            } catch (DeviceStateException e) {
                throw new SnapshotException(saved.directory().resolve(Snapshot.STATE) + ": " + e.getMessage(), e);
            }
            // the workers start parked: nothing is served and no interrupt sent before the vCPUs and the
            // interrupt controller have their state back; Machine.resume lets them go
            devices.pause(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
            devices.start();
            return new Machine(vm, memory, hw.vcpus(), new RestorePlan(saved.state().vcpus()), arch, devices);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            devices.close();
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw new SnapshotException("interrupted while restoring", e);
        } catch (ConfigException | SnapshotException | RuntimeException e) {
            devices.close();
            if (vm != null) {
                vm.close();
            }
            memory.close();
            throw e;
        }
    }

    /**
     * Guest RAM from a snapshot's memory file: mapped privately, so pages load as the guest touches them; where
     * the configuration wants shared or huge-page memory, that memory is allocated and the file read into it.
     */
    private static GuestMemory restoredMemory(Snapshot.Saved saved, MachineLayout layout, MemoryConfig m, boolean prefault)
            throws ConfigException, SnapshotException {
        try {
            if (!m.shared() && !m.hugepages()) {
                return GuestMemory.mapFile(layout.ram(), saved.memoryFile(), prefault || m.prefault());
            }
            GuestMemory memory = allocate(layout, m);
            try (java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(saved.memoryFile())) {
                long position = 0;
                for (GuestRegion r : memory.regions()) {
                    for (long at = 0; at < r.size(); at += 1 << 20) {
                        java.nio.ByteBuffer b = memory.buffer(r.guestAddress() + at, (int) Math.min(1 << 20, r.size() - at));
                        while (b.hasRemaining()) {
                            if (in.read(b, position + at + b.position()) < 0) {
                                throw new java.io.EOFException("at " + (position + at + b.position()));
                            }
                        }
                    }
                    position += r.size();
                }
            } catch (java.io.IOException | dev.nimbus.hypervisor.memory.GuestMemoryException | RuntimeException e) {
                memory.close();
                throw e;
            }
            return memory;
        } catch (java.io.IOException | dev.nimbus.hypervisor.memory.GuestMemoryException e) {
            throw new SnapshotException(saved.memoryFile() + ": " + e.getMessage(), e);
        }
    }

    /** A new VM with its memory slots, interrupt controller and vCPUs. */
    private record Hardware(Vm vm, IrqChip irqChip, List<Vcpu> vcpus) {}

    /**
     * Creates the VM, one memory slot per RAM region, the interrupt controller, {@code vcpus} vCPUs and the
     * controller's set-up that needs them, in the order the hypervisor needs; closes the VM if a step fails.
     */
    private Hardware hardware(GuestMemory memory, IrqChipConfig chip, int vcpus) {
        Vm vm = hypervisor.createVm(arch.vmOptions());
        try {
            int slot = 0;
            for (GuestRegion r : memory.regions()) {
                vm.setMemoryRegion(MemoryRegion.ram(slot++, r));
            }
            IrqChip irqChip = vm.createIrqChip(chip);
            List<Vcpu> created = new ArrayList<>();
            for (int i = 0; i < vcpus; i++) {
                created.add(vm.createVcpu(i));
            }
            irqChip.finishSetup();
            return new Hardware(vm, irqChip, created);
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /** The guest's RAM as the memory options ask; what the host cannot give names the option. */
    private static GuestMemory allocate(MachineLayout layout, MemoryConfig m) throws ConfigException {
        try {
            return GuestMemory.allocate(layout.ram(), new MemoryBacking(m.shared(), m.hugepages(), m.hugepageSize().orElse(0L),
                    m.prefault(), m.thp(), m.mergeable()));
        } catch (MemoryBacking.Unavailable e) {
            Field<?> option = Schema.MEMORY.fields().stream().filter(f -> f.json().orElse("").equals(e.option())).findFirst()
                    .orElse(Schema.MEMORY_SIZE);
            throw new ConfigException(option, 0, "this host cannot back the guest's RAM so: " + e.getMessage());
        }
    }
}
