package dev.nimbus.vmm.devices;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.console.ConsoleInput;
import dev.nimbus.devices.interrupt.IrqChipLine;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.interrupt.ioapic.Ioapic;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.devices.platform.PlatformDeviceFactory;
import dev.nimbus.devices.platform.UnsupportedDeviceException;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.console.ConsoleHost;
import dev.nimbus.vmm.console.PtyConsole;
import dev.nimbus.vmm.console.SocketConsole;

import javax.inject.Inject;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The devices of one machine, and the one place in the VMM that creates devices and puts them on buses.
 * {@link #attach} makes the platform devices the arch's machine model lists (through the devices module's
 * {@link PlatformDeviceFactory}) and the configured virtio functions ({@link VirtioAssembly}), and gives
 * them their resources: host files, disk locks and taps ({@link HostResources}), bus ranges behind a
 * counting view ({@link CountedBuses}), interrupt lines ({@link IrqChipLine}), MSI-X vectors as irqfd
 * routes and queue notifications as ioeventfds, the {@link ConsoleHost}'s input and output for a console in mode
 * {@code tty} (the process's terminal, or an embedding program's streams). What it opened is released in the
 * reverse order on any failure, and by {@link #close()}.
 *
 * <p>While the machine runs, it starts, pauses, resumes and stops the virtio workers, reports every device's
 * counters and lists the devices whose state can be saved ({@link #snapshottable()}). One instance per
 * machine, made by the Dagger component ({@code MachineBuilder} gets a provider of them).
 */
public final class DeviceManager implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DeviceManager.class.getName());

    private final ConsoleHost consoles;
    private final CountedBuses buses = new CountedBuses();
    private final Resources resources = new Resources();
    private final List<CreatedDevice> platform = new ArrayList<>();
    private final List<VirtioFunction> virtio = new ArrayList<>();
    private boolean attached;
    private boolean started;
    private boolean closed;
    private Path serialPty;
    private Path consolePty;
    private Ioapic ioapic;

    @Inject
    public DeviceManager(ConsoleHost consoles) {
        this.consoles = consoles;
    }

    /** The platform devices this configuration keeps ({@code --serial off} removes the UART). */
    public static List<PlatformDevice> select(List<PlatformDevice> all, VmConfig config) {
        boolean serial = config.serial().mode() != ConsoleConfig.Mode.OFF;
        return all.stream().filter(d -> serial || !(d instanceof PlatformDevice.SerialPort)).toList();
    }

    /**
     * Makes the machine's devices, puts them on its buses and connects them to the host and the hypervisor,
     * then starts the virtio workers: {@link #create} and {@link #start()}, as a boot does. On failure
     * everything done so far is undone before the exception leaves.
     *
     * @param specs the platform devices, as {@link #select} kept them
     * @throws ConfigException when the configuration asks for what is not built yet, a device's host side
     *                         cannot be had (an image that does not open, say), or the machine has no PCI
     *                         host for the virtio devices
     */
    public void attach(VmConfig config, List<PlatformDevice> specs, MachineLayout layout, GuestMemory memory, Vm vm,
                       IrqChip irqChip, PowerControl power) throws ConfigException {
        create(config, specs, layout, memory, vm, irqChip, power);
        start();
    }

    /**
     * {@link #attach} without starting the virtio workers: a restore puts the saved states into the devices
     * ({@link #restore}) before {@link #start()}. On failure everything done so far is undone.
     */
    public void create(VmConfig config, List<PlatformDevice> specs, MachineLayout layout, GuestMemory memory, Vm vm,
                       IrqChip irqChip, PowerControl power) throws ConfigException {
        if (attached) {
            throw new IllegalStateException("a device manager attaches one machine's devices once");
        }
        attached = true;
        try {
            // one routing table for the VM: a userspace IOAPIC's pins keep GSIs 0..pins-1, MSI-X vectors come after
            int ioapicPins = specs.stream().filter(PlatformDevice.Ioapic.class::isInstance)
                    .mapToInt(d -> ((PlatformDevice.Ioapic) d).pins()).max().orElse(0);
            MsiRoutes routes = new MsiRoutes(vm, irqChip, ioapicPins);
            attachPlatform(config, specs, layout, irqChip, power, ioapicPins > 0 ? new IoapicMsiOutput(routes, irqChip) : null);
            if (VirtioAssembly.wanted(config)) {
                PciRoot root = platformDevices(PciRoot.class).stream().findFirst().orElseThrow(() -> new ConfigException(
                        "this machine has no PCI host bridge, so it cannot have virtio devices (--disk, --net, --rng, --console)"));
                VirtioAssembly assembly = new VirtioAssembly(consoles, memory, vm, irqChip, resources, routes);
                virtio.addAll(assembly.attach(config, root));
                consolePty = assembly.consolePty().orElse(null);
            }
        } catch (ConfigException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Starts the virtio workers, once every device is in place (and restored, for a restore). */
    public synchronized void start() {
        if (!attached || started || closed) {
            throw new IllegalStateException("the workers start once, after the devices were made");
        }
        started = true;
        virtio.forEach(f -> f.worker().start());
    }

    /**
     * The platform devices, each on the buses behind a counting view, and the serial port connected to the host.
     * Interrupt lines go to the hypervisor's controller, or, where the machine lists a userspace IOAPIC (made
     * first), to its pins.
     */
    private void attachPlatform(VmConfig config, List<PlatformDevice> specs, MachineLayout layout, IrqChip irqChip,
                                PowerControl power, Ioapic.Output ioapicOutput) throws ConfigException {
        PtyConsole serialPty = config.serial().mode() == ConsoleConfig.Mode.PTY ? HostResources.pty(Schema.SERIAL_MODE, resources) : null;
        SocketConsole serialSocket = config.serial().mode() == ConsoleConfig.Mode.SOCKET
                ? HostResources.socket(Schema.SERIAL_SOCKET, config.serial().socket().orElseThrow(), resources) : null;
        OutputStream serialOut = serialPty != null ? serialPty.output() : serialSocket != null ? serialSocket.output()
                : HostResources.consoleOutput(Schema.SERIAL_FILE, config.serial(), consoles, ConsoleHost.Which.SERIAL, resources);
        PlatformDeviceFactory factory = new PlatformDeviceFactory(PlatformDeviceFactory.Environment.onHostClocks(
                this::irqLine, serialOut, power, layout, ioapicOutput));
        this.irqChip = irqChip;
        for (PlatformDevice spec : specs) {
            CreatedDevice device;
            try {
                device = factory.create(spec, buses.buses());
            } catch (UnsupportedDeviceException e) {
                throw new ConfigException(e.getMessage());
            }
            platform.add(device);
            buses.insert(device.mappings());
            if (device.device() instanceof Ioapic made && spec instanceof PlatformDevice.Ioapic where) {
                ioapic = made;
                LOG.log(Level.INFO, "interrupts: IOAPIC in the VMM at 0x{0} (id {1}, {2} pins), local APICs in the hypervisor"
                        + " (split irqchip)", Long.toHexString(where.base()), where.id(), where.pins());
            }
        }
        for (CreatedDevice d : platform) {
            if (d.spec() instanceof PlatformDevice.SerialPort && d.is(ConsoleInput.class)) {
                // the serial port takes what is typed on its pty or socket
                if (serialPty != null) {
                    serialPty.attach(d.device(ConsoleInput.class));
                    this.serialPty = serialPty.path();
                }
                if (serialSocket != null) {
                    serialSocket.attach(d.device(ConsoleInput.class));
                }
            }
        }
        if (config.serial().mode() == ConsoleConfig.Mode.TTY) {
            // the serial port (whichever UART the arch has) takes the host's input
            for (CreatedDevice d : platform) {
                if (d.spec() instanceof PlatformDevice.SerialPort && d.is(ConsoleInput.class)) {
                    resources.add(consoles.attach(ConsoleHost.Which.SERIAL, d.device(ConsoleInput.class)));
                }
            }
        }
    }

    private IrqChip irqChip;

    /** GSI {@code gsi}'s line: a pin of the userspace IOAPIC when the machine has one, else the hypervisor's. */
    private IrqLine irqLine(int gsi) {
        return ioapic != null ? ioapic.line(gsi) : new IrqChipLine(irqChip, gsi);
    }

    /**
     * The guest ended level-triggered interrupt {@code vector} ({@code VcpuExit.IoapicEoi}): the userspace IOAPIC
     * clears the pin's remote IRR and sends it again if its line is still asserted. Nothing without one.
     */
    public void endOfInterrupt(int vector) {
        Ioapic a = ioapic;
        if (a != null) {
            a.endOfInterrupt(vector);
        }
    }

    /** The pseudo-terminal of the serial port in mode pty (vm.info reports it); empty otherwise. */
    public Optional<Path> serialPty() {
        return Optional.ofNullable(serialPty);
    }

    /** The pseudo-terminal of the virtio console in mode pty; empty otherwise. */
    public Optional<Path> consolePty() {
        return Optional.ofNullable(consolePty);
    }

    /** The machine's port-I/O and MMIO buses, where the vCPU loops dispatch exits. */
    public Buses buses() {
        return buses.buses();
    }

    /** The platform devices that are a {@code type}, in the order the machine model lists them. */
    public <T> List<T> platformDevices(Class<T> type) {
        return platform.stream().filter(d -> d.is(type)).map(d -> d.device(type)).toList();
    }

    /** The virtio functions, in slot order. */
    public List<VirtioFunction> virtioFunctions() {
        return List.copyOf(virtio);
    }

    /**
     * Every device whose state can be saved, in a fixed order for a given configuration (platform devices
     * as the machine model lists them, then the virtio devices in slot order): a snapshot's states are matched
     * to a new machine's devices by that order and their {@link Snapshottable#stateId() ids}.
     */
    public List<Snapshottable> snapshottable() {
        List<Snapshottable> out = new ArrayList<>();
        for (CreatedDevice d : platform) {
            if (d.device() instanceof Snapshottable s) {
                out.add(s); // the PCI root among them: every function's configuration space
            }
        }
        for (VirtioFunction f : virtio) {
            out.add(f.device()); // the transport, its queues, MSI-X and the device's own state
        }
        return out;
    }

    /** Every device's state, in {@link #snapshottable()}'s order; the machine is paused (vCPUs and workers). */
    public List<DeviceState> saveStates() {
        return snapshottable().stream().map(Snapshottable::saveState).toList();
    }

    /**
     * Puts saved states back, after {@link #create} and before {@link #start()}: {@code states} are matched to
     * {@link #snapshottable()} by order, and each must be of its device's {@link Snapshottable#stateId() id};
     * a different count or an id out of place is refused before any device changes. The PCI root's state maps
     * the BARs where the guest had put them (the queue ioeventfds follow, as for a guest's move), each virtio
     * function routes its live MSI-X vectors again (GSI routes and irqfds) and a driver-ready device is active
     * at its saved queue indices; the workers, once started, serve what the rings hold (each queue is
     * notified, since notifications pending in the saved machine are gone).
     *
     * @throws DeviceStateException naming the device and field a state does not fit; the machine is then to be
     *                              discarded (devices before it were restored)
     */
    public synchronized void restore(List<DeviceState> states) {
        if (!attached || started || closed) {
            throw new IllegalStateException("devices are restored after create and before start");
        }
        List<Snapshottable> devices = snapshottable();
        List<String> expected = devices.stream().map(Snapshottable::stateId).toList();
        List<String> given = states.stream().map(DeviceState::id).toList();
        if (!expected.equals(given)) {
            throw new DeviceStateException("the snapshot's device states " + given + " do not match this machine's devices "
                    + expected + (given.size() != expected.size() ? " (" + given.size() + " states for " + expected.size() + " devices)" : ""));
        }
        for (int i = 0; i < devices.size(); i++) {
            devices.get(i).restoreState(states.get(i));
        }
        virtio.forEach(f -> f.worker().notifyQueues());
    }

    /**
     * Per device, its counters so far: the virtio devices by id ({@code _disk0}, {@code _rng}...) with what
     * they moved ({@code read_bytes}, {@code write_ops}...), the platform devices (named as they name
     * themselves) with their register reads and writes.
     */
    public Map<String, Map<String, Long>> counters() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        for (VirtioFunction f : virtio) {
            out.put(f.id(), f.counters());
        }
        out.putAll(buses.counters());
        return out;
    }

    /**
     * Parks every virtio worker: no queue is served and no interrupt sent until {@link #resume()}. A worker
     * still busy at {@code deadlineNanos} ({@link System#nanoTime()}) fails the pause, naming its device, and
     * the workers paused so far run again.
     *
     * @throws IllegalStateException when a worker does not stop in time
     */
    public void pause(long deadlineNanos) throws InterruptedException {
        List<VirtioFunction> paused = new ArrayList<>();
        try {
            for (VirtioFunction f : virtio) {
                f.worker().pause(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime())));
                paused.add(f);
            }
        } catch (IllegalStateException e) {
            paused.forEach(f -> f.worker().resume());
            throw e;
        }
    }

    /** Lets the virtio workers serve their devices again. */
    public void resume() {
        virtio.forEach(f -> f.worker().resume());
    }

    /**
     * Stops the devices and releases what they hold: the platform devices first, last made first (an RTC's
     * timer must not raise a line on a closed VM), then the workers, notifiers, routes, taps and files, in the
     * reverse order of opening. Safe to call more than once.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (CreatedDevice d : platform.reversed()) {
            try {
                d.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "closing {0} failed: {1}", d.spec(), e.toString());
            }
        }
        resources.close();
    }
}
