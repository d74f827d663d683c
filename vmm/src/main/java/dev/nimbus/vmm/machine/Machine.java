package dev.nimbus.vmm.machine;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.power.GenericEventDevice;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.hypervisor.GuestClock;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.vmm.devices.DeviceManager;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One assembled VM: its memory, vCPUs, buses and devices, and the threads that run them. Built by
 * {@link MachineBuilder}; {@link #start()} starts one platform thread per vCPU; {@link #awaitExit()} waits
 * for the first {@link MachineExit}; {@link #close()} stops the vCPUs and releases everything, in the
 * reverse order of creation (devices, vCPUs and VM, then guest memory, which the VM's slots point into).
 *
 * <p>{@link #pause()} makes every vCPU leave the guest ({@link Vcpu#kick()}) and park in its loop until
 * {@link #resume()}, and has its {@link DeviceManager} park the virtio devices' workers too; when the VM has a
 * {@link GuestClock} its value is kept across the pause, so the guest's clock does not jump by the paused
 * time. The devices, their buses and their counters belong to the device manager.
 */
public final class Machine implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Machine.class.getName());

    private final Vm vm;
    private final GuestMemory memory;
    private final List<Vcpu> vcpus;
    private final BootPlan plan;
    private final ArchPlatform arch;
    private final DeviceManager devices;
    private final CompletableFuture<MachineExit> exit = new CompletableFuture<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;
    // pause state, guarded by parkLock
    private final Object parkLock = new Object();
    private boolean pauseRequested;
    private int parked;
    private int running;
    private long pausedClock;
    private boolean clockSaved;
    /** Work for parked vCPU threads (saving their state), by vCPU index; guarded by parkLock. */
    private final Runnable[] vcpuTasks;

    Machine(Vm vm, GuestMemory memory, List<Vcpu> vcpus, BootPlan plan, ArchPlatform arch, DeviceManager devices) {
        this.vm = vm;
        this.memory = memory;
        this.vcpus = List.copyOf(vcpus);
        this.plan = plan;
        this.arch = arch;
        this.devices = devices;
        this.vcpuTasks = new Runnable[vcpus.size()];
    }

    /** Per device, its counters so far ({@link DeviceManager#counters()}). */
    public Map<String, Map<String, Long>> counters() {
        return devices.counters();
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
        try {
            devices.pause(deadline);
        } catch (IllegalStateException e) {
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
        devices.resume();
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

    /**
     * Called by vCPU thread {@code index} between runs: parks it while a pause is in effect, doing the work
     * {@link #onParkedVcpus} gives it meanwhile.
     */
    void parkIfPaused(int index) throws InterruptedException {
        synchronized (parkLock) {
            if (!pauseRequested) {
                return;
            }
            parked++;
            parkLock.notifyAll();
            try {
                while (pauseRequested && !stopping) {
                    Runnable task = vcpuTasks[index];
                    if (task != null) {
                        vcpuTasks[index] = null;
                        task.run(); // a FutureTask: its failure goes to whoever waits for it
                        parkLock.notifyAll();
                        continue;
                    }
                    parkLock.wait();
                }
            } finally {
                parked--;
            }
        }
    }

    /**
     * Runs {@code work} for every vCPU on that vCPU's own thread, as the SPI wants for register access, while
     * the machine is paused, and returns the results in vCPU order. A vCPU whose thread has ended (halted)
     * is served on the calling thread.
     *
     * @throws IllegalStateException when the machine is not paused
     * @throws RuntimeException      the first failure of {@code work}, as it was thrown
     */
    public <T> List<T> onParkedVcpus(java.util.function.BiFunction<Vcpu, Integer, T> work) throws InterruptedException {
        List<java.util.concurrent.FutureTask<T>> tasks = new ArrayList<>();
        synchronized (parkLock) {
            if (!pauseRequested || parked < running) {
                throw new IllegalStateException("the machine is not paused");
            }
            for (int i = 0; i < vcpus.size(); i++) {
                int index = i;
                java.util.concurrent.FutureTask<T> task = new java.util.concurrent.FutureTask<>(() -> work.apply(vcpus.get(index), index));
                tasks.add(task);
                if (i < threads.size() && threads.get(i).isAlive()) {
                    vcpuTasks[i] = task;
                } else {
                    task.run();
                }
            }
            parkLock.notifyAll();
        }
        List<T> out = new ArrayList<>();
        for (java.util.concurrent.FutureTask<T> t : tasks) {
            try {
                out.add(t.get());
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException(e.getCause());
            }
        }
        return out;
    }

    /** Starts every vCPU on its own platform thread. */
    public void start() {
        start(false);
    }

    /**
     * Starts every vCPU's thread with a pause already in effect: each sets itself up (a restore's vCPUs put
     * their saved state back) and parks before its first run; {@link #awaitParked} waits for that, and
     * {@link #resume()} lets them run.
     */
    public void startPaused() {
        start(true);
    }

    /**
     * Waits until every vCPU has parked after {@link #startPaused()}.
     *
     * @throws IllegalStateException when a vCPU's set-up failed (the machine has then stopped, with the reason)
     *                               or they did not all park within {@code timeoutMillis}
     */
    public void awaitParked(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (parkLock) {
            while (parked < running && !stopping) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException((running - parked) + " of " + running + " vCPUs did not get ready within "
                            + timeoutMillis + " ms");
                }
                parkLock.wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
        if (exit.isDone()) {
            throw new IllegalStateException(exit.getNow(null) instanceof MachineExit.Failed f ? f.message() : String.valueOf(exit.getNow(null)));
        }
    }

    /**
     * What a snapshot holds of this paused machine besides guest memory: every vCPU's state (saved on its own
     * thread), the interrupt controller's (after the vCPUs', before memory is saved: an ITS writes its tables
     * into guest memory), every device's, and the guest clock as the pause kept it.
     */
    public SavedMachine save() throws InterruptedException {
        List<List<StateRecord>> vcpuStates = onParkedVcpus((v, i) -> v.saveState());
        List<StateRecord> chip = vm.irqChip().map(IrqChip::saveState).orElse(List.of());
        List<DeviceState> deviceStates = devices.saveStates();
        return new SavedMachine(vcpuStates, chip, deviceStates, clockSaved ? OptionalLong.of(pausedClock) : OptionalLong.empty());
    }

    /** A paused machine's state, as {@link #save()} gives it. */
    public record SavedMachine(List<List<StateRecord>> vcpus, List<StateRecord> irqChip, List<DeviceState> devices,
                               OptionalLong guestClock) {}

    /**
     * The second half of a restore, on a machine {@link MachineBuilder#restore built} from a snapshot, started
     * paused and parked: the interrupt controller's state (after every vCPU's), and the guest clock that
     * {@link #resume()} sets.
     */
    public void restoreParked(List<StateRecord> irqChipState, OptionalLong guestClock) {
        vm.irqChip().ifPresent(c -> c.restoreState(irqChipState));
        synchronized (parkLock) {
            if (guestClock.isPresent() && vm instanceof GuestClock) {
                pausedClock = guestClock.getAsLong();
                clockSaved = true;
            }
        }
    }

    /** Guest RAM, for a snapshot to save while the machine is paused. */
    public GuestMemory memory() {
        return memory;
    }

    private synchronized void start(boolean paused) {
        if (!threads.isEmpty()) {
            throw new IllegalStateException("machine already started");
        }
        synchronized (parkLock) {
            running = vcpus.size(); // counted from here, so a pause right after start waits for them too
            pauseRequested = paused;
        }
        CountDownLatch ready = new CountDownLatch(vcpus.size());
        for (int i = 0; i < vcpus.size(); i++) {
            Thread t = Thread.ofPlatform().name("vcpu-" + i).daemon(true)
                    .unstarted(new VcpuLoop(vcpus.get(i), i, plan, arch, devices.buses(), devices::endOfInterrupt, ready, this));
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
        List<GenericEventDevice> ged = devices.platformDevices(GenericEventDevice.class);
        ged.stream().findFirst().ifPresent(GenericEventDevice::pressPowerButton);
        return !ged.isEmpty();
    }

    /** The guest's boot progress codes (port 0x80), oldest first; empty when the machine has no debug port. */
    public List<DebugPort.BootProgress> bootProgress() {
        return devices.platformDevices(DebugPort.class).stream().flatMap(d -> d.records().stream()).toList();
    }

    /** The buses, for tests and for the control plane's counters. */
    public Buses buses() {
        return devices.buses();
    }

    /** The pseudo-terminals of the serial port and the virtio console in mode pty: vm.info reports them. */
    public VmPtys ptys() {
        return new VmPtys(devices.serialPty(), devices.consolePty());
    }

    /** The serial port's and the virtio console's pseudo-terminals, where they have one. */
    public record VmPtys(Optional<Path> serial, Optional<Path> console) {}

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
        // devices and what they hold on the host before the VM their routes and ioeventfds are registered with
        devices.close();
        vm.close();
        memory.close();
    }
}
