package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.ArchPlatforms;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;
import dev.nimbus.hypervisor.memory.GuestRegion;
import dev.nimbus.hypervisor.memory.MemoryRegion;

import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static dev.nimbus.conformance.backend.GuestCode.Layout.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A VM for one conformance test on the case's backend ({@link KitBackend#hypervisor()}, found through the
 * registry by name, never by class name), made with the options the host architecture's platform gives every
 * VM (on x86-64 the MMIO instruction emulator, which MSHV needs and KVM ignores): RAM in slot 0, and optionally
 * the read-only slot 1 and the dirty-logged slot 2 of {@link GuestCode.Layout}. Closing it closes the VM and
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
    private final List<Vm> others = new java.util.ArrayList<>();
    private final ScheduledExecutorService guard = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hang-guard");
        t.setDaemon(true);
        return t;
    });

    /** The x86-64 interrupt controller's TSS and identity-map pages, kept out of the test's RAM. */
    private static final long X86_TSS = 0xfffb_d000L;
    private static final long X86_IDENTITY_MAP = 0xfffb_c000L;
    /** The IOAPIC pins of the split irqchip, as the x86-64 platform has them. */
    private static final int X86_IOAPIC_PINS = 24;

    TestMachine(KitBackend backend, boolean withRom, boolean withLogged) {
        hypervisor = backend.hypervisor();
        vm = hypervisor.createVm(ArchPlatforms.forArch(Arch.host(), TestMachine.class.getClassLoader()).vmOptions());
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

    TestMachine(KitBackend backend) {
        this(backend, false, false);
    }

    /** The optional features of this machine's backend. */
    Set<Capability> capabilities() {
        return hypervisor.capabilities();
    }

    /**
     * x86-64: the interrupt controller a test of local-APIC interrupts needs, by what the backend offers: the
     * in-kernel one ({@link IrqChipConfig.X86Legacy}, with the PIT when {@code pit}) where it has one (KVM);
     * else the split one ({@link IrqChipConfig.X86Split}: the hypervisor's local APICs, the IOAPIC the VMM's,
     * no PIT), which is all MSHV has. A test that uses neither the IOAPIC nor the PIT behaves alike on both.
     */
    IrqChip createX86IrqChip(boolean pit) {
        return createX86IrqChip(vm, pit);
    }

    /** {@link #createX86IrqChip(boolean)} for another VM of this backend ({@link #vmOverSameRam()}). */
    IrqChip createX86IrqChip(Vm on, boolean pit) {
        Set<Capability> caps = capabilities();
        if (caps.contains(Capability.IN_KERNEL_IOAPIC)) {
            return on.createIrqChip(new IrqChipConfig.X86Legacy(X86_TSS, X86_IDENTITY_MAP, pit));
        }
        assumeTrue(caps.contains(Capability.SPLIT_IRQCHIP),
                () -> hypervisor.name() + " offers neither x86-64 interrupt controller (capabilities: " + caps + ")");
        return on.createIrqChip(new IrqChipConfig.X86Split(X86_TSS, X86_IDENTITY_MAP, X86_IOAPIC_PINS));
    }

    /**
     * A second VM of the same backend and options with this machine's RAM as its slot 0, as a restore makes one
     * over the saved memory; closed with this machine.
     */
    Vm vmOverSameRam() {
        Vm second = hypervisor.createVm(ArchPlatforms.forArch(Arch.host(), TestMachine.class.getClassLoader()).vmOptions());
        others.add(second);
        second.setMemoryRegion(MemoryRegion.ram(0, ram.regions().getFirst()));
        return second;
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
        others.forEach(Vm::close);
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
