package dev.nimbus.devices.virtio;

/**
 * How a device gives back requests it finished on a thread of its own (virtio-blk's I/O threads): the
 * transport runs a {@link Publisher} under its lock, then decides on the queue's interrupt once for all it
 * published, so a batch of completions is one notification (with EVENT_IDX, only when the driver asked).
 */
public interface Completions {
    /** What the device does with the queue under the transport's lock. */
    @FunctionalInterface
    interface Publisher {
        /**
         * {@code live}: the device is running (DRIVER_OK, not DEVICE_NEEDS_RESET) and the queue active; when
         * false the device drops what it was going to give back and must not touch the queue.
         */
        void publish(VirtQueue queue, boolean live) throws VirtQueueException;
    }

    /**
     * Runs {@code publisher} on queue {@code index} under the transport's lock, then signals the queue's
     * vector if the driver wants an interrupt for what was used. A {@link VirtQueueException} puts the device
     * into DEVICE_NEEDS_RESET, as in processing.
     */
    void complete(int index, Publisher publisher);
}
