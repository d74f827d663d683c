package dev.nimbus.vmm.machine;

import dev.nimbus.devices.pci.PciDevice;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.devices.virtio.VirtioDevice;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.VirtioWorker;
import dev.nimbus.devices.virtio.block.VirtioBlock;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.SyscallException;
import dev.nimbus.host.net.Tap;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.console.ConsoleOutput;
import dev.nimbus.vmm.console.HostTerminal;

import javax.inject.Inject;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Puts the configured virtio devices ({@code --disk}, {@code --net}, {@code --rng}...) on the machine's PCI root and
 * connects them to the hypervisor so that their I/O never passes through a vCPU thread: each queue's
 * notification register is an ioeventfd that wakes the device's {@link VirtioWorker}, and each MSI-X
 * vector a GSI route with an irqfd ({@link IrqfdMsiRouting}). The ioeventfds follow BAR 0 wherever the
 * guest maps it. Configuration-space and common-configuration accesses still exit to the vCPU thread.
 */
public final class VirtioWiring {
    /** One virtio function of a running machine: its name in {@code vm.counters}, the transport and its worker. */
    public record Attached(String id, VirtioPciDevice device, VirtioWorker worker) {
        public Map<String, Long> counters() {
            return device.counters();
        }
    }

    /** The functions made for one machine, and the host-side resources to release with it (in reverse order). */
    public record Wired(List<Attached> devices, List<AutoCloseable> resources) {}

    /** A device made from the configuration, not yet on the bus, and its {@code vm.counters} id. */
    private record Made(String id, VirtioDevice device) {}

    private final HostTerminal terminal;

    @Inject
    public VirtioWiring(HostTerminal terminal) {
        this.terminal = terminal;
    }

    /** Whether {@code config} asks for any virtio device. */
    public static boolean wanted(VmConfig config) {
        return !config.disks().isEmpty() || !config.nets().isEmpty() || config.rng().isPresent() || config.console().mode() != ConsoleConfig.Mode.OFF;
    }

    /**
     * Makes the configured devices and plugs them into the PCI root among {@code platform}.
     *
     * @throws ConfigException when a device's host side cannot be had (an image that does not open, say),
     *                         or the machine has no PCI host
     */
    public Wired attach(VmConfig config, List<CreatedDevice> platform, GuestMemory memory, Vm vm, IrqChip irqChip)
            throws ConfigException {
        List<AutoCloseable> resources = new ArrayList<>();
        List<Attached> attached = new ArrayList<>();
        if (!wanted(config)) {
            return new Wired(attached, resources);
        }
        try {
            PciRoot root = platform.stream().filter(d -> d.is(PciRoot.class)).map(d -> d.device(PciRoot.class))
                    .findFirst().orElseThrow(() -> new ConfigException(
                            "this machine has no PCI host bridge, so it cannot have virtio devices (--disk, --net, --rng, --console)"));
            MsiRoutes routes = new MsiRoutes(vm, irqChip);
            for (Made made : make(config, resources)) {
                attached.add(plug(made, root, memory, vm, irqChip, routes, resources));
            }
            return new Wired(attached, resources);
        } catch (ConfigException | RuntimeException e) {
            PlatformDeviceWiring.closeAll(resources);
            throw e;
        }
    }

    /** Makes the devices; what each holds open on the host goes into {@code resources} as soon as it is opened. */
    private List<Made> make(VmConfig config, List<AutoCloseable> resources) throws ConfigException {
        List<Made> out = new ArrayList<>();
        for (int i = 0; i < config.disks().size(); i++) {
            DiskConfig disk = config.disks().get(i);
            String id = disk.id().orElse("_disk" + i);
            out.add(disk(id, disk, resources));
        }
        for (int i = 0; i < config.nets().size(); i++) {
            NetConfig net = config.nets().get(i);
            out.add(new Made(net.id().orElse("_net" + i), net(net, resources)));
        }
        if (config.rng().isPresent()) {
            Path src = config.rng().get().src();
            FileChannel channel = open("--rng src=" + src, src, StandardOpenOption.READ);
            resources.add(channel);
            out.add(new Made("_rng", new VirtioRng(channel)));
        }
        if (config.console().mode() != ConsoleConfig.Mode.OFF) {
            out.add(new Made("_console", console(config.console(), resources)));
        }
        return out;
    }

    /**
     * The virtio console: output to stdout ({@code tty}), a file or nowhere ({@code null}); with {@code tty}
     * also the terminal's input (only one console may have it: {@link MachineBuilder#validate}).
     */
    private VirtioConsole console(ConsoleConfig option, List<AutoCloseable> resources) throws ConfigException {
        OutputStream out = OutputStream.nullOutputStream();
        if (option.mode() == ConsoleConfig.Mode.TTY) {
            out = ConsoleOutput.stdout();
            resources.add(out);
        } else if (option.mode() == ConsoleConfig.Mode.FILE) {
            Path file = option.file().orElseThrow();
            try {
                out = ConsoleOutput.file(file);
                resources.add(out);
            } catch (IOException e) {
                throw new ConfigException("--console file: cannot write " + file + ": " + e.getMessage());
            }
        }
        VirtioConsole console = new VirtioConsole(out);
        if (option.mode() == ConsoleConfig.Mode.TTY) {
            resources.add(terminal.attach(console));
        }
        return console;
    }

    private static Made disk(String id, DiskConfig disk, List<AutoCloseable> resources) throws ConfigException {
        String what = "--disk path=" + disk.path();
        if (disk.numQueues() > 1) {
            throw new ConfigException("--disk num_queues: " + disk.numQueues() + " queues are not supported yet (one request queue per disk)");
        }
        if (disk.direct()) {
            throw new ConfigException("--disk direct=on: not supported yet (Nimbus uses the host page cache; flush still reaches the disk)");
        }
        if (Files.isDirectory(disk.path())) {
            throw new ConfigException(what + ": is a directory, not a disk image");
        }
        FileChannel file = disk.readonly()
                ? open(what, disk.path(), StandardOpenOption.READ)
                : open(what, disk.path(), StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            FileLock lock;
            try {
                // shared for a read-only disk, exclusive otherwise: two VMMs never write one image
                lock = file.tryLock(0, Long.MAX_VALUE, disk.readonly());
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new ConfigException(what + ": the image is in use by another process or disk");
            }
            String serial = disk.serial().orElse(disk.id().orElse(""));
            VirtioBlock block = new VirtioBlock(file, disk.readonly(), serial, disk.queueSize());
            resources.add(file);
            return new Made(id, block);
        } catch (IOException e) {
            closeQuietly(file);
            throw new ConfigException(what + ": cannot use the image: " + e.getMessage());
        } catch (ConfigException | RuntimeException e) {
            closeQuietly(file);
            throw e;
        }
    }

    /**
     * virtio-net on a tap: the named one (created, or attached if it exists) or a new {@code tap%d}, given
     * {@code ip}/{@code mask} when set (mask 255.255.255.0 by default) and brought up, in the VMM's network
     * namespace. The guest's MAC is {@code mac} or a random locally administered one.
     */
    private static VirtioNet net(NetConfig net, List<AutoCloseable> resources) throws ConfigException {
        if (net.numQueues() != VirtioNet.QUEUES) {
            throw new ConfigException("--net num_queues: " + net.numQueues() + " needs multiqueue, which is not supported yet "
                    + "(one receive/transmit pair: num_queues=2)");
        }
        if (net.hostMac().isPresent()) {
            throw new ConfigException("--net host_mac: not supported yet (the tap keeps the MAC address the kernel gave it)");
        }
        if (net.mtu().isPresent()) {
            throw new ConfigException("--net mtu: not supported yet (the tap keeps its MTU)");
        }
        if (net.mask().isPresent() && net.ip().isEmpty()) {
            throw new ConfigException("--net mask: needs ip= too (the mask is the host address's)");
        }
        byte[] mac = net.mac().map(VirtioWiring::mac).orElseGet(() -> VirtioNet.randomMac(new SecureRandom()));
        Tap tap;
        try {
            tap = Tap.open(net.tap().orElse(""));
        } catch (SyscallException | IllegalArgumentException e) {
            throw new ConfigException("--net tap=" + net.tap().orElse("") + ": " + e.getMessage());
        }
        resources.add(tap);
        try {
            if (net.ip().isPresent()) {
                tap.setAddress(ipv4(net.ip().get()), ipv4(net.mask().orElse("255.255.255.0")));
            }
            tap.up();
            return new VirtioNet(tap, mac, net.numQueues(), net.queueSize());
        } catch (SyscallException | IllegalArgumentException e) {
            throw new ConfigException("--net tap=" + tap.name() + ": " + e.getMessage());
        }
    }

    /** A dotted quad NetConfig has checked already (a literal: no name lookup). */
    private static Inet4Address ipv4(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted);
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

    private static FileChannel open(String what, Path path, StandardOpenOption... options) throws ConfigException {
        try {
            return FileChannel.open(path, options);
        } catch (NoSuchFileException e) {
            throw new ConfigException(what + ": no such file");
        } catch (AccessDeniedException e) {
            throw new ConfigException(what + ": permission denied");
        } catch (IOException e) {
            throw new ConfigException(what + ": cannot open: " + e.getMessage());
        }
    }

    private static Attached plug(Made made, PciRoot root, GuestMemory memory, Vm vm, IrqChip irqChip, MsiRoutes routes,
                                 List<AutoCloseable> resources) {
        VirtioDevice device = made.device();
        IrqfdMsiRouting msi = new IrqfdMsiRouting(vm, routes, device.queueCount() + 1);
        resources.add(msi);
        int deviceId = irqChip.msiNeedsDeviceId() ? PciRoot.requesterId(root.nextSlot()) : -1;
        VirtioPciDevice pci = new VirtioPciDevice(device, memory, msi, deviceId);
        List<EventFd> queueEvents = new ArrayList<>();
        for (int q = 0; q < device.queueCount(); q++) {
            EventFd fd = EventFd.createNonBlocking();
            resources.add(fd);
            queueEvents.add(fd);
        }
        if (device instanceof VirtioConsole console) {
            // host input wakes the worker as a guest notification would; silenced before the eventfd closes
            console.onInput(queueEvents.get(VirtioConsole.RECEIVEQ)::signal);
            resources.add(() -> console.onInput(() -> {}));
        }
        QueueNotifiers notifiers = new QueueNotifiers(vm, pci, queueEvents);
        root.addBarListener(notifiers);
        resources.add(notifiers);
        root.add(pci);
        VirtioWorker worker = new VirtioWorker(pci, queueEvents);
        resources.add(worker);
        worker.start();
        return new Attached(made.id(), pci, worker);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // already failing; the first error is the one reported
        }
    }

    /**
     * Keeps one ioeventfd per queue on the queue's notification register, moving them when the guest moves
     * BAR 0 and removing them while it is unmapped.
     */
    private static final class QueueNotifiers implements PciRoot.BarListener, AutoCloseable {
        private final Vm vm;
        private final VirtioPciDevice device;
        private final List<EventFd> events;
        private long base = -1;

        QueueNotifiers(Vm vm, VirtioPciDevice device, List<EventFd> events) {
            this.vm = vm;
            this.device = device;
            this.events = events;
        }

        @Override
        public synchronized void barMoved(int slot, PciDevice moved, int bar, long oldBase, long newBase) {
            if (moved != device || bar != VirtioPciDevice.BAR) {
                return;
            }
            unregister();
            if (newBase >= 0) {
                for (int q = 0; q < events.size(); q++) {
                    vm.registerIoeventfd(events.get(q), address(newBase, q), OptionalLong.empty());
                }
                base = newBase;
            }
        }

        private void unregister() {
            if (base < 0) {
                return;
            }
            for (int q = 0; q < events.size(); q++) {
                vm.unregisterIoeventfd(events.get(q), address(base, q), OptionalLong.empty());
            }
            base = -1;
        }

        /** Any write to the queue's register (Linux writes the 16-bit queue index) signals the eventfd. */
        private static IoEventAddress address(long barBase, int queue) {
            return IoEventAddress.mmio(barBase + VirtioPciDevice.notifyOffset(queue), 0);
        }

        @Override
        public synchronized void close() {
            try {
                unregister();
            } catch (RuntimeException ignored) {
                // the VM is going away
            }
        }
    }
}
