package dev.nimbus.devices.power;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.hypervisor.arch.PlatformDevice.AcpiGenericEventDevice;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * The event register of an ACPI Generic Event Device (layout in {@link AcpiGenericEventDevice}): the VMM
 * records an event ({@link #pressPowerButton()}) and pulses the interrupt; the guest's {@code _EVT} method
 * reads the register, which hands over the pending bits and clears them, so each press is seen once.
 *
 * <p>A read of any size at offset 0 returns the pending bits (truncated to the size read) and clears what it
 * returned; reads elsewhere return 0, writes are ignored. Presses that arrive before the guest has read the
 * register are merged, as a button's presses are while nobody looks.
 */
public final class GenericEventDevice implements BusDevice, Snapshottable {
    static final String STATE_ID = "acpi-ged";
    static final int STATE_VERSION = 1;

    private final IrqLine irq;
    private int pending;

    public GenericEventDevice(IrqLine irq) {
        this.irq = Objects.requireNonNull(irq, "irq");
    }

    @Override
    public String name() {
        return "ACPI GED";
    }

    /** Presses the power button: sets {@link AcpiGenericEventDevice#POWER_BUTTON} and pulses the interrupt. */
    public void pressPowerButton() {
        synchronized (this) {
            pending |= AcpiGenericEventDevice.POWER_BUTTON;
        }
        irq.pulse();
    }

    /** The events the guest has not read yet. */
    public synchronized int pending() {
        return pending;
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /** Version 1: the pending event bits the guest has not read, four bytes little-endian. */
    @Override
    public synchronized DeviceState saveState() {
        return new DeviceState(STATE_ID, STATE_VERSION, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(pending).array());
    }

    /** Takes the pending events back without pulsing the interrupt again: the guest was told of them before the save. */
    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(STATE_ID, STATE_VERSION);
        byte[] d = state.data();
        if (d.length != 4) {
            throw new DeviceStateException(STATE_ID + ": " + d.length + " bytes of state, expected 4");
        }
        pending = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset != 0) {
            return 0;
        }
        int mask = size >= 4 ? -1 : (1 << (8 * size)) - 1;
        int value = pending & mask;
        pending &= ~value;
        return value & 0xffff_ffffL;
    }

    @Override
    public void write(long offset, int size, long value) {
        // the register is read-only; the guest acknowledges an event by reading it
    }
}
