package dev.nimbus.devices.pci;

/**
 * One message-signalled interrupt a device raises (an MSI-X table entry). The device calls
 * {@link #signal()} when it has something to tell the guest; whether the message goes out now or is held
 * pending behind a mask is the capability's business, not the device's. May be called from any thread.
 */
public interface MsiVector {
    void signal();

    /** A vector connected to nothing (the guest did not assign one). */
    MsiVector NONE = () -> {};
}
