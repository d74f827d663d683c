package dev.nimbus.vmm.machine;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

/**
 * One assembled VM: its memory, vCPUs, buses and devices, and the threads that run them. Built by
 * {@link MachineBuilder}; {@link #start()} starts one platform thread per vCPU; {@link #awaitExit()} waits
 * for the first {@link MachineExit}; {@link #close()} stops the vCPUs and releases everything, in the
 * reverse order of creation (devices, vCPUs and VM, then guest memory, which the VM's slots point into).
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
    private final List<AutoCloseable> resources;
    private final CompletableFuture<MachineExit> exit = new CompletableFuture<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;

    Machine(Vm vm, GuestMemory memory, List<Vcpu> vcpus, Buses buses, BootPlan plan, ArchPlatform arch,
            List<CreatedDevice> devices, List<AutoCloseable> resources) {
        this.vm = vm;
        this.memory = memory;
        this.vcpus = List.copyOf(vcpus);
        this.buses = buses;
        this.plan = plan;
        this.arch = arch;
        this.devices = List.copyOf(devices);
        this.resources = List.copyOf(resources);
    }

    /** Starts every vCPU on its own platform thread. */
    public synchronized void start() {
        if (!threads.isEmpty()) {
            throw new IllegalStateException("machine already started");
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
