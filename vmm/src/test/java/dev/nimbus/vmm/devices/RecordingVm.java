package dev.nimbus.vmm.devices;

import dev.nimbus.host.EventFd;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.memory.MemoryRegion;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/** A VM that records what the device manager asks of the hypervisor: ioeventfds, irqfds and GSI routing tables. */
final class RecordingVm implements Vm {
    /** The interrupt controller's own routes: two pins, so MSI GSIs start at 24. */
    static final List<GsiRoute> LINES = List.of(new GsiRoute.IrqchipPin(0, 2, 0), new GsiRoute.IrqchipPin(23, 2, 23));

    final List<IoEventAddress> ioeventfds = new ArrayList<>();
    final List<Integer> irqfdGsis = new ArrayList<>();
    final List<List<GsiRoute>> routing = new ArrayList<>();
    /** Messages sent with signalMsi, and lines driven ("gsi:0|1"), in order. */
    final List<MsiMessage> msis = new ArrayList<>();
    final List<String> lines = new ArrayList<>();
    private final boolean split;
    final IrqChip chip = new IrqChip() {
        @Override
        public IrqChipConfig config() {
            return split ? new IrqChipConfig.X86Split(0, 0, 24) : new IrqChipConfig.X86Legacy(0, 0, false);
        }

        @Override
        public void finishSetup() {}

        @Override
        public void setIrqLine(int gsi, boolean high) {
            if (split) {
                throw new UnsupportedOperationException("the split irqchip has no lines (GSI " + gsi + ")");
            }
            synchronized (RecordingVm.this) {
                lines.add(gsi + ":" + (high ? 1 : 0));
            }
        }

        @Override
        public void signalMsi(MsiMessage message) {
            synchronized (RecordingVm.this) {
                msis.add(message);
            }
        }

        @Override
        public List<GsiRoute> lineRoutes() {
            return split ? List.of() : LINES;
        }
    };

    /** A VM with the hypervisor's whole irqchip (two line routes). */
    RecordingVm() {
        this(false);
    }

    /** With {@code split}: KVM's split irqchip as the VMM sees it (no lines, no line routes, MSIs only). */
    RecordingVm(boolean split) {
        this.split = split;
    }

    @Override
    public Arch arch() {
        return Arch.X86_64;
    }

    @Override
    public void setMemoryRegion(MemoryRegion region) {}

    @Override
    public void removeMemoryRegion(int slot) {}

    @Override
    public BitSet dirtyLog(int slot) {
        return new BitSet();
    }

    @Override
    public IrqChip createIrqChip(IrqChipConfig config) {
        return chip;
    }

    @Override
    public Optional<IrqChip> irqChip() {
        return Optional.of(chip);
    }

    @Override
    public Vcpu createVcpu(int id) {
        throw new UnsupportedOperationException();
    }

    @Override
    public synchronized void registerIrqfd(EventFd fd, int gsi) {
        irqfdGsis.add(gsi);
    }

    @Override
    public synchronized void unregisterIrqfd(EventFd fd, int gsi) {
        irqfdGsis.remove(Integer.valueOf(gsi));
    }

    @Override
    public synchronized void registerIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
        ioeventfds.add(address);
    }

    @Override
    public synchronized void unregisterIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
        ioeventfds.remove(address);
    }

    @Override
    public synchronized void setGsiRouting(List<GsiRoute> routes) {
        routing.add(List.copyOf(routes));
    }

    @Override
    public void close() {}
}
