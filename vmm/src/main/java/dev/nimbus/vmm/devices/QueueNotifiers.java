package dev.nimbus.vmm.devices;

import dev.nimbus.devices.pci.PciDevice;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.host.EventFd;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.Vm;

import java.util.List;
import java.util.OptionalLong;

/**
 * Keeps one ioeventfd per queue on the queue's notification register, moving them when the guest moves
 * BAR 0 and removing them while it is unmapped.
 */
final class QueueNotifiers implements PciRoot.BarListener, AutoCloseable {
    private final Vm vm;
    private final VirtioPciDevice device;
    private final List<EventFd> events;
    private long base = -1;

    QueueNotifiers(Vm vm, VirtioPciDevice device, List<EventFd> events) {
        this.vm = vm;
        this.device = device;
        this.events = events;
    }

    @Override
    public synchronized void barMoved(int slot, PciDevice moved, int bar, long oldBase, long newBase) {
        if (moved != device || bar != VirtioPciDevice.BAR) {
            return;
        }
        unregister();
        if (newBase >= 0) {
            for (int q = 0; q < events.size(); q++) {
                vm.registerIoeventfd(events.get(q), address(newBase, q), OptionalLong.empty());
            }
            base = newBase;
        }
    }

    private void unregister() {
        if (base < 0) {
            return;
        }
        for (int q = 0; q < events.size(); q++) {
            vm.unregisterIoeventfd(events.get(q), address(base, q), OptionalLong.empty());
        }
        base = -1;
    }

    /** Any write to the queue's register (Linux writes the 16-bit queue index) signals the eventfd. */
    private static IoEventAddress address(long barBase, int queue) {
        return IoEventAddress.mmio(barBase + VirtioPciDevice.notifyOffset(queue), 0);
    }

    @Override
    public synchronized void close() {
        try {
            unregister();
        } catch (RuntimeException ignored) {
            // the VM is going away
        }
    }
}
