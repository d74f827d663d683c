package dev.nimbus.vmm.devices;

import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.Vm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The VM's GSI routing table as the VMM keeps it: the interrupt controller's own line routes
 * ({@link IrqChip#lineRoutes()}) followed by one MSI route per GSI handed out here or reserved for a userspace
 * IOAPIC's pins (GSI n = pin n, routed by {@link IoapicMsiOutput}). The hypervisor takes the table whole, so
 * every change installs all of it.
 */
final class MsiRoutes {
    /** The most GSIs a KVM routing table holds (KVM_MAX_IRQ_ROUTES). */
    static final int MAX_GSIS = 4096;

    private final Vm vm;
    private final List<GsiRoute> lines;
    private final Map<Integer, MsiMessage> msi = new TreeMap<>();
    private int nextGsi;

    MsiRoutes(Vm vm, IrqChip chip) {
        this(vm, chip, 0);
    }

    /** A table whose first {@code reservedGsis} GSIs are kept for the pins of a userspace IOAPIC. */
    MsiRoutes(Vm vm, IrqChip chip, int reservedGsis) {
        this.vm = vm;
        this.lines = List.copyOf(chip.lineRoutes());
        this.nextGsi = Math.max(reservedGsis, lines.stream().mapToInt(GsiRoute::gsi).max().orElse(-1) + 1);
    }

    /** A GSI of its own for one MSI vector. */
    synchronized int allocate() {
        if (nextGsi >= MAX_GSIS) {
            throw new IllegalStateException("out of GSIs for MSI vectors (" + MAX_GSIS + ")");
        }
        return nextGsi++;
    }

    /** Routes {@code gsi} to {@code message} and installs the table. */
    synchronized void route(int gsi, MsiMessage message) {
        if (message.equals(msi.put(gsi, message))) {
            return;
        }
        List<GsiRoute> table = new ArrayList<>(lines.size() + msi.size());
        table.addAll(lines);
        msi.forEach((g, m) -> table.add(new GsiRoute.Msi(g, m)));
        vm.setGsiRouting(table);
    }
}
