package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.GuestClock;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.host.EventFd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * A hypervisor whose vCPUs replay scripted exits instead of running code: the VMM's machine and lifecycle
 * are tested with it without KVM. Each created VM takes the next script; a vCPU whose script is used up
 * waits (as a vCPU in the guest would) until it is kicked.
 */
public final class ScriptedBackend implements Hypervisor {
    /** A port write, as the guest's {@code out} instruction would exit. */
    public record Out(int port, int size, long value) implements VcpuExit.IoOut {
        @Override
        public int count() {
            return 1;
        }

        @Override
        public long value(int index) {
            return value;
        }
    }

    /** An MMIO write, as a guest's store to a device register would exit. */
    public record MmioOut(long address, int size, long value) implements VcpuExit.MmioWrite {}

    private final Deque<List<Supplier<VcpuExit>>> scripts = new ArrayDeque<>();
    /** What {@link #capabilities()} reports (nothing unless a test says). */
    public volatile Set<Capability> capabilities = EnumSet.noneOf(Capability.class);
    public final List<ScriptedVm> vms = new CopyOnWriteArrayList<>();

    /** Adds the exits the boot vCPU of the next VM returns, in order. */
    @SafeVarargs
    public final ScriptedBackend thenVm(Supplier<VcpuExit>... exits) {
        scripts.add(List.of(exits));
        return this;
    }

    @Override
    public String name() {
        return "scripted";
    }

    @Override
    public Availability availability() {
        return Availability.usable("scripted");
    }

    @Override
    public Set<Arch> architectures() {
        return EnumSet.allOf(Arch.class);
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    @Override
    public Set<Long> runtimeIoctls() {
        return Set.of(); // scripted vCPUs make no ioctls
    }

    @Override
    public int maxVcpus() {
        return 8;
    }

    @Override
    public synchronized Vm createVm(VmOptions options) {
        ScriptedVm vm = new ScriptedVm(scripts.isEmpty() ? List.of() : scripts.poll());
        vms.add(vm);
        return vm;
    }

    public static final class ScriptedVm implements Vm, GuestClock {
        final List<Supplier<VcpuExit>> script;
        final List<MemoryRegion> regions = new ArrayList<>();
        final List<ScriptedVcpu> vcpus = new ArrayList<>();
        public final List<String> irqEvents = new CopyOnWriteArrayList<>();
        /** Every MSI sent through the interrupt controller, in order. */
        public final List<MsiMessage> msis = new CopyOnWriteArrayList<>();
        public volatile boolean closed;
        /** The guest clock; every value set on it, in order. */
        public volatile long clock = 1_000_000;
        public final List<Long> clockSets = new CopyOnWriteArrayList<>();
        private IrqChip chip;

        ScriptedVm(List<Supplier<VcpuExit>> script) {
            this.script = script;
        }

        @Override
        public Arch arch() {
            return Arch.host();
        }

        @Override
        public void setMemoryRegion(MemoryRegion region) {
            regions.add(region);
        }

        @Override
        public void removeMemoryRegion(int slot) {
            regions.removeIf(r -> r.slot() == slot);
        }

        @Override
        public BitSet dirtyLog(int slot) {
            return new BitSet();
        }

        @Override
        public long getClock() {
            return clock;
        }

        @Override
        public void setClock(long nanos) {
            clockSets.add(nanos);
            clock = nanos;
        }

        @Override
        public IrqChip createIrqChip(IrqChipConfig config) {
            chip = new IrqChip() {
                @Override
                public IrqChipConfig config() {
                    return config;
                }

                @Override
                public void finishSetup() {}

                @Override
                public void setIrqLine(int gsi, boolean high) {
                    irqEvents.add(gsi + (high ? "+" : "-"));
                }

                @Override
                public void signalMsi(MsiMessage message) {
                    msis.add(message);
                }
            };
            return chip;
        }

        @Override
        public Optional<IrqChip> irqChip() {
            return Optional.ofNullable(chip);
        }

        @Override
        public Vcpu createVcpu(int id) {
            ScriptedVcpu v = new ScriptedVcpu(id, id == 0 ? script : List.of());
            vcpus.add(v);
            return v;
        }

        @Override
        public void registerIrqfd(EventFd fd, int gsi) {}

        @Override
        public void unregisterIrqfd(EventFd fd, int gsi) {}

        @Override
        public void registerIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {}

        @Override
        public void unregisterIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {}

        @Override
        public void setGsiRouting(List<GsiRoute> routes) {}

        @Override
        public void close() {
            closed = true;
            vcpus.forEach(ScriptedVcpu::close);
        }
    }

    public static final class ScriptedVcpu implements Vcpu {
        private final int id;
        private final List<Supplier<VcpuExit>> script;
        private int next;
        private boolean kicked;
        volatile boolean closed;
        public volatile boolean setUp;

        ScriptedVcpu(int id, List<Supplier<VcpuExit>> script) {
            this.id = id;
            this.script = script;
        }

        @Override
        public int id() {
            return id;
        }

        @Override
        public VcpuExit run() {
            if (next < script.size()) {
                return script.get(next++).get();
            }
            synchronized (this) {
                while (!kicked) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return VcpuExit.INTERRUPTED;
                    }
                }
                kicked = false;
            }
            return VcpuExit.INTERRUPTED;
        }

        @Override
        public synchronized void kick() {
            kicked = true;
            notifyAll();
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
