package dev.nimbus.vmm.devices;

import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.virtio.VirtioDevice;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.VirtioWorker;
import dev.nimbus.devices.virtio.block.BlockBackend;
import dev.nimbus.devices.virtio.block.VirtioBlock;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.host.DiskImage;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.SyscallException;
import dev.nimbus.host.net.Tap;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.console.ConsoleHost;
import dev.nimbus.vmm.console.PtyConsole;
import dev.nimbus.vmm.console.SocketConsole;

import java.io.IOException;
import java.io.OutputStream;
import java.security.SecureRandom;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The virtio half of the {@link DeviceManager}: makes the configured devices ({@code --disk}, {@code --net},
 * {@code --rng}, {@code --console}, in that order of slots after the host bridge) and connects each to the
 * hypervisor so that its I/O never passes through a vCPU thread: each queue's notification register is an
 * ioeventfd that wakes the device's {@link VirtioWorker} ({@link QueueNotifiers}, following BAR 0 wherever
 * the guest maps it), and each MSI-X vector a GSI route with an irqfd ({@link IrqfdMsiRouting}).
 * Configuration-space and common-configuration accesses still exit to the vCPU thread. The workers are made
 * here and started by the device manager once every device is in place.
 */
final class VirtioAssembly {
    /** A device made from the configuration, not yet on the bus, and its {@code vm.counters} id. */
    private record Made(String id, VirtioDevice device) {}

    private final ConsoleHost consoles;
    private final GuestMemory memory;
    private final Vm vm;
    private final IrqChip irqChip;
    private final Resources resources;
    private final MsiRoutes routes;
    private Path consolePty;

    /** {@code routes}: the VM's one routing table, shared with the platform devices (a userspace IOAPIC's pins). */
    VirtioAssembly(ConsoleHost consoles, GuestMemory memory, Vm vm, IrqChip irqChip, Resources resources, MsiRoutes routes) {
        this.consoles = consoles;
        this.memory = memory;
        this.vm = vm;
        this.irqChip = irqChip;
        this.resources = resources;
        this.routes = routes;
    }

    /** Whether {@code config} asks for any virtio device. */
    static boolean wanted(VmConfig config) {
        return !config.disks().isEmpty() || !config.nets().isEmpty() || config.rng().isPresent() || config.console().mode() != ConsoleConfig.Mode.OFF;
    }

    /** Makes the configured devices and plugs them into {@code root}; their workers are not started. */
    List<VirtioFunction> attach(VmConfig config, PciRoot root) throws ConfigException {
        List<VirtioFunction> out = new ArrayList<>();
        for (Made made : make(config)) {
            out.add(plug(made, root, routes));
        }
        return out;
    }

    private List<Made> make(VmConfig config) throws ConfigException {
        List<Made> out = new ArrayList<>();
        for (int i = 0; i < config.disks().size(); i++) {
            DiskConfig disk = config.disks().get(i);
            out.add(new Made(disk.id().orElse("_disk" + i), disk(disk, i)));
        }
        for (int i = 0; i < config.nets().size(); i++) {
            NetConfig net = config.nets().get(i);
            out.add(new Made(net.id().orElse("_net" + i), net(net, i)));
        }
        if (config.rng().isPresent()) {
            out.add(new Made("_rng", new VirtioRng(HostResources.rngSource(config.rng().get().src(), resources))));
        }
        if (config.console().mode() != ConsoleConfig.Mode.OFF) {
            out.add(new Made("_console", console(config.console())));
        }
        return out;
    }

    /**
     * virtio-blk on the option's image with {@code num_queues} request queues, each with its MSI-X vector; the
     * device's I/O threads are made by its worker.
     */
    private VirtioBlock disk(DiskConfig disk, int index) throws ConfigException {
        DiskImage image = HostResources.diskImage(disk, index, resources);
        try {
            return new VirtioBlock(BlockBackend.of(image), disk.readonly(), disk.serial().orElse(disk.id().orElse("")),
                    disk.queueSize(), disk.numQueues());
        } catch (IOException e) {
            throw new ConfigException(Schema.DISK_PATH, index, disk.path() + ": cannot use the image: " + e.getMessage());
        }
    }

    /** virtio-net on the option's tap; the guest's MAC is {@code mac} or a random locally administered one. */
    private VirtioNet net(NetConfig net, int index) throws ConfigException {
        byte[] mac = net.mac().map(VirtioAssembly::mac).orElseGet(() -> VirtioNet.randomMac(new SecureRandom()));
        Tap tap = HostResources.tap(net, index, resources);
        try {
            return new VirtioNet(tap, mac, net.numQueues(), net.queueSize());
        } catch (SyscallException | IllegalArgumentException e) {
            throw new ConfigException(Schema.NET_TAP, index, "'" + tap.name() + "': " + e.getMessage());
        }
    }

    /** {@code 12:34:56:78:9a:bc}, as NetConfig checked it. */
    private static byte[] mac(String text) {
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte) Integer.parseInt(text.substring(3 * i, 3 * i + 2), 16);
        }
        return mac;
    }

    /**
     * The virtio console: on a socket or a pty with its input, output to a file or nowhere ({@code null}), or
     * on the console host ({@code tty}: the terminal, of which only one console may have the input, as the
     * schema's {@code VmConfig.from} checks, or an embedding program's streams) with its input.
     */
    private VirtioConsole console(ConsoleConfig option) throws ConfigException {
        if (option.mode() == ConsoleConfig.Mode.SOCKET) {
            SocketConsole socket = HostResources.socket(Schema.CONSOLE_SOCKET, option.socket().orElseThrow(), resources);
            VirtioConsole console = new VirtioConsole(socket.output());
            socket.attach(console);
            return console;
        }
        if (option.mode() == ConsoleConfig.Mode.PTY) {
            PtyConsole pty = HostResources.pty(Schema.CONSOLE_MODE, resources);
            VirtioConsole console = new VirtioConsole(pty.output());
            pty.attach(console);
            consolePty = pty.path();
            return console;
        }
        OutputStream out = HostResources.consoleOutput(Schema.CONSOLE_FILE, option, consoles, ConsoleHost.Which.VIRTIO, resources);
        VirtioConsole console = new VirtioConsole(out);
        if (option.mode() == ConsoleConfig.Mode.TTY) {
            resources.add(consoles.attach(ConsoleHost.Which.VIRTIO, console));
        }
        return console;
    }

    /** The virtio console's pseudo-terminal, when its mode is pty (after {@link #attach}). */
    Optional<Path> consolePty() {
        return Optional.ofNullable(consolePty);
    }

    private VirtioFunction plug(Made made, PciRoot root, MsiRoutes routes) {
        VirtioDevice device = made.device();
        IrqfdMsiRouting msi = resources.add(new IrqfdMsiRouting(vm, routes, device.queueCount() + 1));
        int deviceId = irqChip.msiNeedsDeviceId() ? PciRoot.requesterId(root.nextSlot()) : -1;
        VirtioPciDevice pci = new VirtioPciDevice(device, memory, msi, deviceId);
        List<EventFd> queueEvents = new ArrayList<>();
        for (int q = 0; q < device.queueCount(); q++) {
            queueEvents.add(resources.add(EventFd.createNonBlocking()));
        }
        if (device instanceof VirtioConsole console) {
            // host input wakes the worker as a guest notification would; silenced before the eventfd closes
            console.onInput(queueEvents.get(VirtioConsole.RECEIVEQ)::signal);
            resources.add(() -> console.onInput(() -> {}));
        }
        root.addBarListener(resources.add(new QueueNotifiers(vm, pci, queueEvents)));
        root.add(pci);
        VirtioWorker worker = resources.add(new VirtioWorker(pci, queueEvents));
        return new VirtioFunction(made.id(), pci, worker);
    }
}
