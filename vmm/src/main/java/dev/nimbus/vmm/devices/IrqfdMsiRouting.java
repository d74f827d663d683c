package dev.nimbus.vmm.devices;

import dev.nimbus.devices.pci.MsiRouting;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.host.EventFd;

/**
 * One PCI function's MSI-X vectors, each delivered through an irqfd: the first time the guest programs a
 * vector it gets a GSI and an eventfd bound to it, and every reprogramming rewrites that GSI's route. A
 * device fires a vector by writing the eventfd; the hypervisor injects the interrupt without a return to
 * Java.
 */
final class IrqfdMsiRouting implements MsiRouting, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(IrqfdMsiRouting.class.getName());
    private final Vm vm;
    private final MsiRoutes routes;
    private final EventFd[] fds;
    private final int[] gsis;

    IrqfdMsiRouting(Vm vm, MsiRoutes routes, int vectors) {
        this.vm = vm;
        this.routes = routes;
        this.fds = new EventFd[vectors];
        this.gsis = new int[vectors];
    }

    @Override
    public synchronized void configure(int vector, MsiMessage message) {
        if (vector < 0 || vector >= fds.length) {
            return;
        }
        // what the guest programmed and where it goes: at -vv, the proof of which controller takes each vector
        LOG.log(System.Logger.Level.DEBUG, () -> String.format("MSI-X vector %d -> GSI %s: address 0x%x, data 0x%x, device id 0x%x",
                vector, fds[vector] == null ? "new" : String.valueOf(gsis[vector]), message.address(), message.data(), message.deviceId()));
        if (fds[vector] == null) {
            int gsi = routes.allocate();
            routes.route(gsi, message);
            EventFd fd = EventFd.create();
            try {
                vm.registerIrqfd(fd, gsi);
            } catch (RuntimeException e) {
                fd.close();
                throw e;
            }
            gsis[vector] = gsi;
            fds[vector] = fd;
        } else {
            routes.route(gsis[vector], message);
        }
    }

    @Override
    public synchronized void signal(int vector) {
        if (vector >= 0 && vector < fds.length && fds[vector] != null) {
            fds[vector].signal();
        }
    }

    @Override
    public synchronized void close() {
        for (int v = 0; v < fds.length; v++) {
            if (fds[v] != null) {
                try {
                    vm.unregisterIrqfd(fds[v], gsis[v]);
                } catch (RuntimeException ignored) {
                    // the VM is going away; the eventfd is closed below either way
                }
                fds[v].close();
                fds[v] = null;
            }
        }
    }
}
