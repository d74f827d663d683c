package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorRegistry;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;
import dev.nimbus.hypervisor.memory.GuestRegion;
import dev.nimbus.hypervisor.memory.MemoryRegion;

import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static dev.nimbus.conformance.backend.GuestCode.Layout.*;

/**
 * A VM for one conformance test: the backend chosen through {@link HypervisorRegistry} (never by class
 * name; {@code -Dnimbus.hypervisor=NAME}, default {@code auto}), RAM in slot 0, and optionally the
 * read-only slot 1 and the dirty-logged slot 2 of {@link GuestCode.Layout}. Closing it closes the VM and
 * releases the guest memory.
 */
final class TestMachine implements AutoCloseable {
    /** A guard against a guest that never exits (a broken backend), not a timing check. */
    static final long HANG_GUARD_SECONDS = Long.getLong("nimbus.kit.hangGuardSeconds", 120);

    final Hypervisor hypervisor;
    final Vm vm;
    final GuestMemory ram;
    final GuestMemory rom;
    final GuestMemory logged;
    final GuestCode code = GuestCode.forHost();
    private final ScheduledExecutorService guard = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hang-guard");
        t.setDaemon(true);
        return t;
    });

    static Hypervisor backend() {
        return HypervisorRegistry.discover(TestMachine.class.getClassLoader())
                .select(System.getProperty("nimbus.hypervisor", "auto"));
    }

    TestMachine(boolean withRom, boolean withLogged) {
        hypervisor = backend();
        vm = hypervisor.createVm(VmOptions.defaults());
        ram = GuestMemory.allocate(List.of(new AddressRange(RAM, RAM_SIZE)));
        vm.setMemoryRegion(MemoryRegion.ram(0, ram.regions().getFirst()));
        if (withRom) {
            rom = GuestMemory.allocate(List.of(new AddressRange(ROM, ROM_SIZE)));
            vm.setMemoryRegion(new MemoryRegion(1, rom.regions().getFirst(), true, false));
        } else {
            rom = null;
        }
        if (withLogged) {
            logged = GuestMemory.allocate(List.of(new AddressRange(LOGGED, LOGGED_SIZE)));
            vm.setMemoryRegion(new MemoryRegion(2, logged.regions().getFirst(), false, true));
        } else {
            logged = null;
        }
    }

    TestMachine() {
        this(false, false);
    }

    /** Copies {@code program} into RAM at {@code address}. */
    void load(long address, byte[] program) throws GuestMemoryException {
        ram.write(address, program);
    }

    /** Creates vCPU {@code id} and points it at {@code entry}. */
    Vcpu vcpu(int id, long entry) {
        Vcpu v = vm.createVcpu(id);
        code.start(v, entry, id == 0);
        return v;
    }

    /** Runs {@code vcpu} once; a guest that does not exit within the hang guard is kicked out of it. */
    VcpuExit run(Vcpu vcpu) {
        ScheduledFuture<?> kick = guard.schedule(vcpu::kick, HANG_GUARD_SECONDS, TimeUnit.SECONDS);
        try {
            return vcpu.run();
        } finally {
            kick.cancel(false);
        }
    }

    GuestRegion ramRegion() {
        return ram.regions().getFirst();
    }

    @Override
    public void close() {
        guard.shutdownNow();
        vm.close();
        ram.close();
        if (rom != null) {
            rom.close();
        }
        if (logged != null) {
            logged.close();
        }
    }
}
