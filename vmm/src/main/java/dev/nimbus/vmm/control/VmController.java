package dev.nimbus.vmm.control;

import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.host.Landlock;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.vmm.Version;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.RestoreConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.control.ControlException.Kind;
import dev.nimbus.vmm.machine.Machine;
import dev.nimbus.vmm.machine.MachineBuilder;
import dev.nimbus.vmm.machine.MachineExit;
import dev.nimbus.vmm.sandbox.FileSandbox;
import dev.nimbus.vmm.snapshot.Snapshot;
import dev.nimbus.vmm.snapshot.SnapshotException;
import dev.nimbus.vmm.snapshot.VmStateFile;

import javax.inject.Inject;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one internal API every front end (the command line, the REST API) drives a VM through. Each request
 * runs on one VM-control thread, so lifecycle transitions are serialized and each has exactly one
 * implementation here; the caller blocks until its request is done. Events from the guest (power-off,
 * reset, a failed vCPU) arrive on the same thread.
 *
 * <p>A reboot, whether the guest asks for it or {@code vm.reboot} does, builds a fresh machine from the same
 * configuration, as Cloud Hypervisor does: nothing of the old run's device state survives.
 */
public final class VmController implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VmController.class.getName());
    /** A guest that reboots more often than this in one run is stopped: it is in a reboot loop. */
    public static final int MAX_REBOOTS = 100;
    /** How long a pause waits for every vCPU to leave the guest. */
    static final long PAUSE_TIMEOUT_MILLIS = 10_000;

    private final MachineBuilder builder;
    /**
     * The one control thread, started with the controller (by the thread that makes it, the main thread)
     * rather than at the first request: a thread takes its maker's seccomp filter, and the thread that builds
     * machines and makes the vCPU threads must not have an API thread's.
     */
    private final ExecutorService control = startedControlThread();
    private final CompletableFuture<Void> vmmShutdown = new CompletableFuture<>();
    private volatile FileSandbox.ProcessFiles processFiles = FileSandbox.ProcessFiles.NONE;

    // touched only on the control thread
    private VmConfig config;
    private VmState state;
    private Machine machine;
    private int reboots;
    // the current boot's outcome; replaced by each vm.boot, read by waiting front ends
    private volatile CompletableFuture<RunOutcome> run = new CompletableFuture<>();

    @Inject
    public VmController(MachineBuilder builder) {
        this.builder = builder;
    }

    private static ExecutorService startedControlThread() {
        java.util.concurrent.ThreadPoolExecutor pool = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0L,
                java.util.concurrent.TimeUnit.MILLISECONDS, new java.util.concurrent.LinkedBlockingQueue<>(),
                r -> Thread.ofPlatform().name("vm-control").daemon(true).unstarted(r));
        pool.prestartAllCoreThreads();
        return pool;
    }

    /** What the process was started with that {@code --landlock} must keep reachable (the API socket, the log). */
    public void processFiles(FileSandbox.ProcessFiles files) {
        this.processFiles = files;
    }

    /** {@code vm.create}: checks and keeps the configuration; builds nothing yet. */
    public void create(VmConfig newConfig) throws ControlException {
        call(() -> {
            if (config != null) {
                throw new ControlException(Kind.WRONG_STATE, "a VM is already created (vm.delete it first)");
            }
            try {
                builder.validate(newConfig);
            } catch (ConfigException e) {
                throw new ControlException(Kind.BAD_REQUEST, e.getMessage(), e);
            }
            config = newConfig;
            state = VmState.CREATED;
            LOG.log(Level.INFO, "vm.create: {0} vCPUs, {1} bytes of RAM, kernel {2}", newConfig.cpus().boot(),
                    newConfig.memory().size(), newConfig.payload().kernel());
            return null;
        });
    }

    /** {@code vm.boot}: builds the machine and starts its vCPUs. */
    public void boot() throws ControlException {
        call(() -> {
            requireVm();
            if (state == VmState.RUNNING || state == VmState.PAUSED) {
                throw new ControlException(Kind.WRONG_STATE, "the VM is already booted (" + state.apiName() + ")");
            }
            reboots = 0;
            run = new CompletableFuture<>();
            startMachine();
            LOG.log(Level.INFO, "vm.boot: running");
            return null;
        });
    }

    /** {@code vm.pause}: every vCPU leaves the guest and parks. */
    public void pause() throws ControlException {
        call(() -> {
            requireState(VmState.RUNNING, "pause");
            try {
                machine.pause(PAUSE_TIMEOUT_MILLIS);
            } catch (IllegalStateException | HypervisorException | SyscallException e) {
                throw new ControlException(Kind.INTERNAL, "vm.pause: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ControlException(Kind.INTERNAL, "vm.pause: interrupted", e);
            }
            state = VmState.PAUSED;
            LOG.log(Level.INFO, "vm.pause: paused");
            return null;
        });
    }

    /** {@code vm.resume}: the parked vCPUs run the guest again. */
    public void resume() throws ControlException {
        call(() -> {
            requireState(VmState.PAUSED, "resume");
            try {
                machine.resume();
            } catch (HypervisorException | SyscallException e) {
                throw new ControlException(Kind.INTERNAL, "vm.resume: " + e.getMessage(), e);
            }
            state = VmState.RUNNING;
            LOG.log(Level.INFO, "vm.resume: running");
            return null;
        });
    }

    /**
     * {@code vm.snapshot}: saves the paused VM into {@code directory} (made if missing; one that already holds a
     * snapshot is refused): its configuration, every vCPU's, the interrupt controller's and every device's
     * state, and guest RAM. The VM stays paused; {@code vm.resume} continues it.
     */
    public void snapshot(Path directory) throws ControlException {
        call(() -> {
            requireState(VmState.PAUSED, "snapshot");
            long start = System.nanoTime();
            try {
                Snapshot.prepare(directory);
                Machine.SavedMachine saved = machine.save();
                machine.memory().saveTo(directory.resolve(Snapshot.MEMORY));
                Snapshot.write(directory, new Snapshot.Contents(Version.get(), builder.archId(), builder.hypervisorName(), config,
                        new VmStateFile(saved.vcpus(), saved.irqChip(), saved.devices()), saved.guestClock(),
                        builder.ramRanges(config)));
            } catch (SnapshotException e) {
                throw new ControlException(Kind.BAD_REQUEST, e.getMessage(), e);
            } catch (java.io.IOException e) {
                throw new ControlException(Kind.BAD_REQUEST, "destination_url: writing guest memory into " + directory + " failed: " + e, e);
            } catch (UnsupportedOperationException | HypervisorException | SyscallException | StateException | IllegalStateException e) {
                throw new ControlException(Kind.INTERNAL, "vm.snapshot: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ControlException(Kind.INTERNAL, "vm.snapshot: interrupted", e);
            }
            LOG.log(Level.INFO, "vm.snapshot: saved into {0} in {1} ms", directory, (System.nanoTime() - start) / 1_000_000);
            return null;
        });
    }

    /**
     * {@code vm.restore} and {@code --restore}: makes the VM a snapshot saved, paused (or running with
     * {@code resume}). Everything is checked before anything is made: the snapshot's files, its version,
     * architecture and hypervisor, the disks' sizes, the taps; then the vCPUs' states (CPUID against this host)
     * as they are put back. A refusal leaves no VM behind.
     */
    public void restore(RestoreConfig restore) throws ControlException {
        restore(restore, null);
    }

    /**
     * {@link #restore(RestoreConfig)} of a snapshot the caller has already read and checked with {@link
     * Snapshot#read} (the command line reads it before it chooses a backend), so its files are not read and
     * hashed twice; {@code null} reads it here.
     */
    public void restore(RestoreConfig restore, Snapshot.Saved alreadyRead) throws ControlException {
        call(() -> {
            if (config != null) {
                throw new ControlException(Kind.WRONG_STATE, "vm.restore: a VM is already created (vm.delete it first)");
            }
            long start = System.nanoTime();
            Snapshot.Saved saved;
            try {
                saved = alreadyRead != null ? alreadyRead : Snapshot.read(restore.directory());
                Snapshot.checkHost(saved, builder.archId(), builder.hypervisorName(), Path.of("/sys/class/net"));
                builder.validate(saved.config());
            } catch (SnapshotException e) {
                throw new ControlException(Kind.BAD_REQUEST, e.getMessage(), e);
            } catch (ConfigException e) {
                throw new ControlException(Kind.BAD_REQUEST, "the snapshot's configuration does not fit this host: " + e.getMessage(), e);
            }
            config = saved.config();
            reboots = 0;
            run = new CompletableFuture<>();
            try {
                startMachine(power -> builder.restore(saved, restore.prefault(), power), true);
                machine.awaitParked(PAUSE_TIMEOUT_MILLIS);
                machine.restoreParked(saved.state().irqChip(), saved.guestClock());
            } catch (ControlException e) {
                forgetFailed();
                throw e;
            } catch (IllegalStateException | StateException | dev.nimbus.devices.state.DeviceStateException e) {
                forgetFailed();
                throw new ControlException(Kind.BAD_REQUEST, "the snapshot cannot be restored here: " + e.getMessage(), e);
            } catch (UnsupportedOperationException | HypervisorException | SyscallException e) {
                forgetFailed();
                throw new ControlException(Kind.INTERNAL, "vm.restore: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                forgetFailed();
                throw new ControlException(Kind.INTERNAL, "vm.restore: interrupted", e);
            }
            state = VmState.PAUSED;
            LOG.log(Level.INFO, "vm.restore: restored {0} (written by Nimbus {1}) in {2} ms, paused", restore.directory(),
                    saved.nimbusVersion(), (System.nanoTime() - start) / 1_000_000);
            if (restore.resume()) {
                machine.resume();
                state = VmState.RUNNING;
                LOG.log(Level.INFO, "vm.restore: running");
            }
            return null;
        });
    }

    /** A restore that failed part way: its machine closed, no VM left. */
    private void forgetFailed() {
        stopMachine();
        config = null;
        state = null;
        run.complete(new RunOutcome.Failed("restore failed"));
    }

    /** {@code vm.shutdown}: stops and releases the machine; the configuration stays, for another boot. */
    public void shutdown() throws ControlException {
        call(() -> {
            requireBooted("shutdown");
            stopMachine();
            state = VmState.SHUTDOWN;
            run.complete(new RunOutcome.PoweredOff("vm.shutdown"));
            LOG.log(Level.INFO, "vm.shutdown: shut down");
            return null;
        });
    }

    /** {@code vm.reboot}: a fresh machine from the same configuration. */
    public void reboot() throws ControlException {
        call(() -> {
            requireBooted("reboot");
            stopMachine();
            try {
                startMachine();
            } catch (ControlException e) {
                state = VmState.SHUTDOWN;
                run.complete(new RunOutcome.Failed(e.getMessage()));
                throw e;
            }
            LOG.log(Level.INFO, "vm.reboot: running");
            return null;
        });
    }

    /**
     * {@code vm.power-button}: presses the guest's ACPI power button. The guest decides what to do (a clean
     * shutdown, usually); when it powers off, the VM goes to Shutdown as for any guest power-off.
     */
    public void powerButton() throws ControlException {
        call(() -> {
            requireState(VmState.RUNNING, "power-button");
            if (!machine.pressPowerButton()) {
                throw new ControlException(Kind.WRONG_STATE, "vm.power-button: this machine has no power button ("
                        + "Nimbus has an ACPI one on x86_64 only)");
            }
            LOG.log(Level.INFO, "vm.power-button: pressed");
            return null;
        });
    }

    /** {@code vm.delete}: shuts the VM down if it runs and forgets it. No VM is not an error. */
    public void delete() throws ControlException {
        call(() -> {
            deleteVm();
            return null;
        });
    }

    /** {@code vm.info}. */
    public VmInfo info() throws ControlException {
        return call(() -> {
            requireVm();
            VmConfig shown = machine == null ? config
                    : config.withPtys(machine.ptys().serial(), machine.ptys().console());
            return new VmInfo(shown, state, config.memory().size());
        });
    }

    /** {@code vm.counters}: per device, its counters (empty before the VM boots). */
    public Map<String, Map<String, Long>> counters() throws ControlException {
        return call(() -> {
            requireVm();
            return machine == null ? Map.of() : machine.counters();
        });
    }

    /** {@code vmm.shutdown}: deletes the VM and lets {@link #awaitVmmShutdown()} return. */
    public void shutdownVmm() throws ControlException {
        call(() -> {
            deleteVm();
            vmmShutdown.complete(null);
            LOG.log(Level.INFO, "vmm.shutdown");
            return null;
        });
    }

    /** Waits for {@code vmm.shutdown}. */
    public void awaitVmmShutdown() throws InterruptedException {
        try {
            vmmShutdown.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Waits for the current boot's run to end (power-off, failure, shutdown, deletion). */
    public RunOutcome awaitRunEnd() throws InterruptedException {
        try {
            return run.get();
        } catch (ExecutionException e) {
            return new RunOutcome.Failed(String.valueOf(e.getCause()));
        }
    }

    /**
     * The current boot's end, for a front end that does not block on it (the embedding API): completes when
     * the run ends, as {@link #awaitRunEnd()} returns. Completing the returned future changes nothing here.
     */
    public CompletableFuture<RunOutcome> runEnd() {
        return run.copy();
    }

    /** Deletes the VM, then stops the control thread and waits for it to end (a few seconds at most). */
    @Override
    public void close() {
        try {
            delete();
        } catch (ControlException e) {
            LOG.log(Level.WARNING, "closing the VM failed: {0}", e.getMessage());
        }
        control.shutdown();
        try {
            if (!control.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS)) {
                LOG.log(Level.WARNING, "the VM-control thread did not end within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- on the control thread ----

    private void requireVm() throws ControlException {
        if (config == null) {
            throw new ControlException(Kind.NO_VM, "no VM has been created (vm.create first)");
        }
    }

    private void requireState(VmState wanted, String request) throws ControlException {
        requireVm();
        if (state != wanted) {
            throw new ControlException(Kind.WRONG_STATE, "vm." + request + ": the VM is " + state.apiName()
                    + ", not " + wanted.apiName());
        }
    }

    private void requireBooted(String request) throws ControlException {
        requireVm();
        if (state != VmState.RUNNING && state != VmState.PAUSED) {
            throw new ControlException(Kind.WRONG_STATE, "vm." + request + ": the VM is " + state.apiName() + ", not booted");
        }
    }

    private void startMachine() throws ControlException {
        startMachine(power -> builder.build(config, power), false);
    }

    private interface MachineFactory {
        Machine make(PowerControl power) throws BootException, ConfigException, SnapshotException;
    }

    private void startMachine(MachineFactory factory, boolean paused) throws ControlException {
        AtomicReference<Machine> current = new AtomicReference<>();
        PowerControl power = new PowerControl() {
            @Override
            public void requestPowerOff() {
                current.get().exit(new MachineExit.PowerOff("ACPI power-off"));
            }

            @Override
            public void requestReset() {
                current.get().exit(new MachineExit.Reset("reset request"));
            }
        };
        Machine m;
        try {
            m = factory.make(power);
        } catch (BootException | ConfigException | SnapshotException e) {
            throw new ControlException(Kind.BAD_REQUEST, e.getMessage(), e);
        } catch (HypervisorException | SyscallException e) {
            throw new ControlException(Kind.INTERNAL, e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new ControlException(Kind.INTERNAL, "building the VM failed: " + e, e);
        }
        if (config.landlock().enabled() && !Landlock.isEnforced()) {
            // built: from here on the control thread, and every thread it makes (the vCPUs), reaches only the
            // configuration's files; a reboot's machine is built under the same rules
            try {
                FileSandbox.enforce(config, processFiles);
            } catch (RuntimeException e) {
                m.close();
                throw new ControlException(Kind.INTERNAL, "--landlock: " + e.getMessage(), e);
            }
        }
        current.set(m);
        machine = m;
        state = VmState.RUNNING;
        m.onExit(why -> {
            try {
                control.execute(() -> machineExited(m, why));
            } catch (RejectedExecutionException e) {
                // the controller is closing; it closes the machine itself
            }
        });
        if (paused) {
            m.startPaused();
        } else {
            m.start();
        }
    }

    /** Closes the current machine; its exit event, which closing raises, is then ignored as stale. */
    private void stopMachine() {
        Machine m = machine;
        machine = null;
        if (m != null) {
            m.close();
            for (DebugPort.BootProgress p : m.bootProgress()) {
                LOG.log(Level.DEBUG, "boot progress: {0}", p);
            }
        }
    }

    private void machineExited(Machine m, MachineExit why) {
        if (m != machine) {
            return; // a machine the control plane stopped itself
        }
        stopMachine();
        switch (why) {
            case MachineExit.PowerOff p -> {
                state = VmState.SHUTDOWN;
                LOG.log(Level.INFO, "guest powered off ({0})", p.how());
                run.complete(new RunOutcome.PoweredOff(p.how()));
            }
            case MachineExit.Failed f -> {
                state = VmState.SHUTDOWN;
                LOG.log(Level.ERROR, "the VM stopped: {0}", f.message());
                run.complete(new RunOutcome.Failed(f.message()));
            }
            case MachineExit.Reset r -> {
                if (++reboots > MAX_REBOOTS) {
                    state = VmState.SHUTDOWN;
                    run.complete(new RunOutcome.RebootLoop(MAX_REBOOTS));
                    return;
                }
                LOG.log(Level.INFO, "guest rebooting ({0})", r.how());
                try {
                    startMachine();
                } catch (ControlException e) {
                    state = VmState.SHUTDOWN;
                    run.complete(new RunOutcome.Failed(e.getMessage()));
                }
            }
        }
    }

    private void deleteVm() {
        if (config == null) {
            return;
        }
        if (machine != null) {
            stopMachine();
            run.complete(new RunOutcome.PoweredOff("vm.delete"));
        }
        config = null;
        state = null;
        LOG.log(Level.INFO, "vm.delete: no VM");
    }

    private interface Request<T> {
        T run() throws ControlException;
    }

    private <T> T call(Request<T> request) throws ControlException {
        Future<T> f;
        try {
            f = control.submit(request::run);
        } catch (RejectedExecutionException e) {
            throw new ControlException(Kind.INTERNAL, "the VMM is shutting down");
        }
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ControlException c) {
                throw c;
            }
            LOG.log(Level.ERROR, "a control request failed unexpectedly", e.getCause());
            throw new ControlException(Kind.INTERNAL, "unexpected error: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ControlException(Kind.INTERNAL, "interrupted while waiting for the VM-control thread", e);
        }
    }
}
