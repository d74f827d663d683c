package dev.nimbus.devices.interrupt;

import dev.nimbus.host.EventFd;

/**
 * An {@link IrqLine} on an eventfd that the VMM has registered as an irqfd ({@code Vm.registerIrqfd}). The
 * kernel turns each signal into one edge on the GSI, so this line is edge-triggered: a rising edge
 * ({@code set(true)} after {@code set(false)}) signals, {@code set(false)} only records the level. Use it
 * for edge-triggered inputs and MSI routes; a level-triggered input needs {@link IrqChipLine}.
 */
public final class EventFdIrqLine implements IrqLine {
    private final EventFd eventFd;
    private boolean high;

    public EventFdIrqLine(EventFd eventFd) {
        this.eventFd = eventFd;
    }

    @Override
    public synchronized void set(boolean high) {
        if (high && !this.high) {
            eventFd.signal();
        }
        this.high = high;
    }

    @Override
    public synchronized void pulse() {
        eventFd.signal();
        high = false;
    }
}
