package dev.nimbus.vmm.devices;

import dev.nimbus.devices.interrupt.ioapic.Ioapic;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.MsiMessage;

import java.util.Optional;

/**
 * Where a userspace IOAPIC's messages go: each pin's current message is the MSI route of GSI = pin in the VM's
 * routing table (KVM's split irqchip reads those routes to know which vectors are the IOAPIC's level-triggered
 * ones, and reports only their EOIs), and a message is sent with {@link IrqChip#signalMsi}. A masked pin keeps
 * its last route: the IOAPIC sends nothing for it, and leaving the route costs at most an EOI exit, where
 * replacing the whole table on every mask and unmask would cost a {@code KVM_SET_GSI_ROUTING} each.
 */
final class IoapicMsiOutput implements Ioapic.Output {
    private static final System.Logger LOG = System.getLogger(IoapicMsiOutput.class.getName());
    private final MsiRoutes routes;
    private final IrqChip chip;

    IoapicMsiOutput(MsiRoutes routes, IrqChip chip) {
        this.routes = routes;
        this.chip = chip;
    }

    @Override
    public void route(int pin, Optional<MsiMessage> message) {
        message.ifPresent(m -> {
            LOG.log(System.Logger.Level.DEBUG, () -> String.format("IOAPIC pin %d -> GSI %d: address 0x%x, data 0x%x",
                    pin, pin, m.address(), m.data()));
            routes.route(pin, m);
        });
    }

    @Override
    public void send(int pin, MsiMessage message) {
        chip.signalMsi(message);
    }
}
