package dev.nimbus.devices.interrupt;

/**
 * The interrupt line a device drives, handed to it when it is made. The device says what its output pin
 * does; what that becomes (an in-kernel interrupt controller pin, an irqfd) is not its business.
 * Implementations may be called from any thread.
 */
public interface IrqLine {
    /** Drives the line high (asserted) or low. A level-triggered device calls this whenever its output changes. */
    void set(boolean high);

    /** One edge: high then low, for edge-triggered devices. */
    default void pulse() {
        set(true);
        set(false);
    }

    /** A line connected to nothing, for devices whose interrupt is not wired. */
    IrqLine NONE = high -> {};
}
