package dev.nimbus.devices.state;

/**
 * A device whose guest-visible state can be saved and put back, for snapshot and restore (and, later,
 * migration). The state is what the guest could observe and the host cannot rebuild: registers, FIFO
 * contents, pending events. It excludes the device's connections to the host (output stream, interrupt
 * line, timers), which whoever restores gives a new device through its constructor as usual.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #stateId()} names the format of the state, not the device instance ({@code "serial-16550a"}):
 *       a machine with two devices of one kind has two states of one id; the device manager lists its devices
 *       in a fixed order, which is what tells them apart.</li>
 *   <li>{@link #saveState()} is called while the machine is paused (no vCPU or worker is in the device) and
 *       returns a self-contained copy; the device keeps running unchanged afterwards.</li>
 *   <li>{@link #restoreState} is called on a freshly made device, before the guest runs, with a state of the
 *       same id and a version it supports; afterwards the device behaves as the saved one did, its interrupt
 *       output included. A state that it cannot take (other id, unknown version, malformed or out-of-range
 *       data: a state file is input like any other) is refused with a {@link DeviceStateException}, leaving
 *       the device as it was.</li>
 * </ul>
 */
public interface Snapshottable {
    /** The format of this device's state, stable across releases ({@code "serial-16550a"}). */
    String stateId();

    /** The device's state now. */
    DeviceState saveState();

    /**
     * Puts {@code state} back into this (fresh) device.
     *
     * @throws DeviceStateException when the state is not one this device can take; the device is then unchanged
     */
    void restoreState(DeviceState state);
}
