package dev.nimbus.devices.virtio;

/**
 * The guest broke the virtqueue contract (a looping or over-long descriptor chain, a buffer outside its
 * RAM, a reused head index...). The transport answers by setting DEVICE_NEEDS_RESET; the VMM and the other
 * devices carry on.
 */
public final class VirtQueueException extends Exception {
    public VirtQueueException(String message) {
        super(message);
    }
}
