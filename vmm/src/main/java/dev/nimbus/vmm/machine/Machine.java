package dev.nimbus.vmm.machine;

import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.devices.power.GenericEventDevice;
import dev.nimbus.hypervisor.GuestClock;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * One assembled VM: its memory, vCPUs, buses and devices, and the threads that run them. Built by
 * {@link MachineBuilder}; {@link #start()} starts one platform thread per vCPU; {@link #awaitExit()} waits
 * for the first {@link MachineExit}; {@link #close()} stops the vCPUs and releases everything, in the
 * reverse order of creation (devices, vCPUs and VM, then guest memory, which the VM's slots point into).
 *
 * <p>{@link #pause()} makes every vCPU leave the guest ({@link Vcpu#kick()}) and park in its loop until
 * {@link #resume()}, and parks the virtio devices' workers too; when the VM has a {@link GuestClock} its
 * value is kept across the pause, so the guest's clock does not jump by the paused time. Every device's
 * register accesses are counted for {@link #counters()}.
 */
public final class Machine implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Machine.class.getName());

    private final Vm vm;
    private final GuestMemory memory;
    private final List<Vcpu> vcpus;
    private final Buses buses;
    private final BootPlan plan;
    private final ArchPlatform arch;
    private final List<CreatedDevice> devices;
    private final List<VirtioWiring.Attached> virtio;
    private final List<AutoCloseable> resources;
    private final CompletableFuture<MachineExit> exit = new CompletableFuture<>();
    private final List<Thread> threads = new ArrayList<>();
    private final Map<String, LongAdder[]> counters = new LinkedHashMap<>();
    private volatile boolean stopping;
    // pause state, guarded by parkLock
    private final Object parkLock = new Object();
    private boolean pauseRequested;
    private int parked;
    private int running;
    private long pausedClock;
    private boolean clockSaved;

    Machine(Vm vm, GuestMemory memory, List<Vcpu> vcpus, Buses buses, BootPlan plan, ArchPlatform arch,
            List<CreatedDevice> devices, List<VirtioWiring.Attached> virtio, List<AutoCloseable> resources) {
        this.vm = vm;
        this.memory = memory;
        this.vcpus = List.copyOf(vcpus);
        this.buses = buses;
        this.plan = plan;
        this.arch = arch;
        this.devices = List.copyOf(devices);
        this.virtio = List.copyOf(virtio);
        this.resources = List.copyOf(resources);
        countAccesses();
    }

    /** Puts a counting view of every device on the buses in place of the device itself. */
    private void countAccesses() {
        for (CreatedDevice d : devices) {
            if (d.mappings().isEmpty()) {
                continue;
            }
            String base = d.mappings().getFirst().device().name();
            String name = base;
            for (int n = 2; counters.containsKey(name); n++) {
                name = base + " " + n;
            }
            LongAdder[] c = {new LongAdder(), new LongAdder()};
            counters.put(name, c);
            for (BusMapping m : d.mappings()) {
                if (buses.bus(m.space()).remove(m.base())) {
                    buses.insert(new BusMapping(m.space(), m.base(), m.length(), new CountingDevice(m.device(), c[0], c[1])));
                }
            }
        }
    }

    /**
     * Per device, its counters so far: the virtio devices by id ({@code _disk0}, {@code _rng}...) with what
     * they moved ({@code read_bytes}, {@code write_ops}...), the platform devices (named as they name
     * themselves) with their register reads and writes.
     */
    public Map<String, Map<String, Long>> counters() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        for (VirtioWiring.Attached v : virtio) {
            out.put(v.id(), v.counters());
        }
        counters.forEach((name, c) -> out.put(name, Map.of("reads", c[0].sum(), "writes", c[1].sum())));
        return out;
    }

    /** Calls {@code listener} once, on the thread that ends the run, with how it ended. */
    public void onExit(Consumer<MachineExit> listener) {
        exit.thenAccept(listener);
    }

    /**
     * Stops every vCPU outside the guest and waits until all have parked (a halted vCPU counts as parked).
     * Keeps the guest clock's value when the VM has one.
     *
     * @throws IllegalStateException when the vCPUs, or a device's worker, do not all stop within
     *                               {@code timeoutMillis}; the machine then runs on
     */
    public void pause(long timeoutMillis) throws InterruptedException {
        synchronized (parkLock) {
            pauseRequested = true;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (parkLock) {
            while (parked < running && !stopping) {
                for (Vcpu v : vcpus) {
                    v.kick();
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    pauseRequested = false;
                    parkLock.notifyAll();
                    throw new IllegalStateException((running - parked) + " of " + running + " vCPUs did not stop within "
                            + timeoutMillis + " ms");
                }
                parkLock.wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
        // then the devices' own threads: no queue is served and no interrupt sent while paused. A device still
        // busy at the deadline fails the pause, naming it, and everything paused so far runs again.
        List<VirtioWiring.Attached> pausedWorkers = new ArrayList<>();
        try {
            for (VirtioWiring.Attached v : virtio) {
                v.worker().pause(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                pausedWorkers.add(v);
            }
        } catch (IllegalStateException e) {
            for (VirtioWiring.Attached v : pausedWorkers) {
                v.worker().resume();
            }
            synchronized (parkLock) {
                pauseRequested = false;
                parkLock.notifyAll();
            }
            throw e;
        }
        if (vm instanceof GuestClock clock) {
            pausedClock = clock.getClock();
            clockSaved = true;
            LOG.log(Level.DEBUG, "paused; guest clock {0} ns", pausedClock);
        }
    }

    /** Lets the devices' threads and the parked vCPUs run again, with the guest clock where the pause left it. */
    public void resume() {
        if (clockSaved && vm instanceof GuestClock clock) {
            clock.setClock(pausedClock);
            clockSaved = false;
        }
        for (VirtioWiring.Attached v : virtio) {
            v.worker().resume();
        }
        synchronized (parkLock) {
            pauseRequested = false;
            parkLock.notifyAll();
        }
    }

    /** Called by a vCPU thread as it ends (set-up failed, halted, or the machine stopped). */
    void vcpuEnded() {
        synchronized (parkLock) {
            running--;
            parkLock.notifyAll();
        }
    }

    /** Called by a vCPU thread between runs: parks it while a pause is in effect. */
    void parkIfPaused() throws InterruptedException {
        synchronized (parkLock) {
            if (!pauseRequested) {
                return;
            }
            parked++;
            parkLock.notifyAll();
            try {
                while (pauseRequested && !stopping) {
                    parkLock.wait();
                }
            } finally {
                parked--;
            }
        }
    }

    /** Starts every vCPU on its own platform thread. */
    public synchronized void start() {
        if (!threads.isEmpty()) {
            throw new IllegalStateException("machine already started");
        }
        synchronized (parkLock) {
            running = vcpus.size(); // counted from here, so a pause right after start waits for them too
        }
        CountDownLatch ready = new CountDownLatch(vcpus.size());
        for (int i = 0; i < vcpus.size(); i++) {
            Thread t = Thread.ofPlatform().name("vcpu-" + i).daemon(true)
                    .unstarted(new VcpuLoop(vcpus.get(i), i, plan, arch, buses, ready, this));
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    /**
     * Ends the run with {@code why}, unless it has already ended, and makes every vCPU leave the guest.
     * Safe from any thread, devices' included.
     */
    public void exit(MachineExit why) {
        if (exit.complete(why)) {
            LOG.log(Level.DEBUG, "machine exit: {0}", why);
        }
        stopping = true;
        synchronized (parkLock) {
            parkLock.notifyAll();
        }
        for (Vcpu v : vcpus) {
            v.kick();
        }
    }

    boolean stopping() {
        return stopping;
    }

    /** Waits for the run to end and says how. */
    public MachineExit awaitExit() throws InterruptedException {
        try {
            return exit.get();
        } catch (java.util.concurrent.ExecutionException e) {
            return new MachineExit.Failed(String.valueOf(e.getCause()));
        }
    }

    /**
     * Presses the guest's ACPI power button: the generic event device records the event and raises its
     * interrupt; what follows is the guest's business (Linux: KEY_POWER, then acpid or systemd-logind).
     *
     * @return false when this machine has no power button (no {@link GenericEventDevice} among its devices)
     */
    public boolean pressPowerButton() {
        for (CreatedDevice d : devices) {
            if (d.is(GenericEventDevice.class)) {
                d.device(GenericEventDevice.class).pressPowerButton();
                return true;
            }
        }
        return false;
    }

    /** The guest's boot progress codes (port 0x80), oldest first; empty when the machine has no debug port. */
    public List<DebugPort.BootProgress> bootProgress() {
        return devices.stream().filter(d -> d.is(DebugPort.class))
                .flatMap(d -> d.device(DebugPort.class).records().stream()).toList();
    }

    /** The buses, for tests and for the control plane's counters. */
    public Buses buses() {
        return buses;
    }

    @Override
    public synchronized void close() {
        exit(new MachineExit.PowerOff("machine closed"));
        for (Thread t : threads) {
            try {
                // a vCPU thread leaves KVM_RUN when kicked; keep kicking in case it re-entered the guest
                while (t.isAlive()) {
                    for (Vcpu v : vcpus) {
                        v.kick();
                    }
                    t.join(100);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        // devices first (an RTC's timer must not raise a line on a closed VM), then host resources
        for (CreatedDevice d : devices.reversed()) {
            try {
                d.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "closing {0} failed: {1}", d.spec(), e.toString());
            }
        }
        PlatformDeviceWiring.closeAll(resources);
        vm.close();
        memory.close();
    }
}
