package dev.nimbus.devices.virtio;

import java.util.Map;

/**
 * A virtio device type (rng, block...) as its transport sees it: what it offers and how it serves its
 * queues. The transport ({@link VirtioPciDevice}) owns feature negotiation, the status state machine, the
 * queues' configuration and interrupts; the device only turns available chains into used ones.
 *
 * <p>The transport calls every method under its own lock, so a device needs no locking of its own for
 * state it touches only from these calls.
 */
public interface VirtioDevice {
    /** The virtio device ID (5: "Device Types"): 2 block, 4 entropy source... */
    int deviceType();

    /**
     * The device-specific feature bits offered (bits 0-23 and any of 50-127 the device defines). The
     * transport adds VIRTIO_F_VERSION_1, VIRTIO_F_RING_INDIRECT_DESC and VIRTIO_F_RING_EVENT_IDX.
     */
    long deviceFeatures();

    /** How many virtqueues the device has. */
    int queueCount();

    /** The largest size queue {@code index} supports (a power of two). */
    int queueMaxSize(int index);

    /** The PCI class code (24 bits) the function shows; 0xff0000 ("unclassified") unless a type has one. */
    default int pciClass() {
        return 0xff0000;
    }

    /** Bytes of device-specific configuration. */
    default int configSize() {
        return 0;
    }

    /** A driver read of {@code size} bytes of device configuration at {@code offset}. */
    default long readConfig(int offset, int size) {
        return 0;
    }

    /** A driver write of device configuration; ignored by devices whose configuration is read-only. */
    default void writeConfig(int offset, int size, long value) {}

    /** The driver set DRIVER_OK with {@code features} negotiated; the queues are active. */
    default void activate(long features) {}

    /**
     * Serves what the driver made available on queue {@code index}: {@link VirtQueue#pop()} until it gives
     * null, {@link VirtQueue#addUsed} for each chain finished. The transport decides on the interrupt
     * afterwards. A {@link VirtQueueException} (the guest broke the queue) puts the device into
     * DEVICE_NEEDS_RESET.
     */
    void process(int index, VirtQueue queue) throws VirtQueueException;

    /** The driver reset the device: forget negotiated state. */
    default void reset() {}

    /**
     * What the device has done so far, by counter name (Cloud Hypervisor's names where it has them:
     * {@code read_bytes}, {@code write_ops}, {@code rx_bytes}...), for {@code vm.counters}. May be called
     * from any thread.
     */
    default Map<String, Long> counters() {
        return Map.of();
    }

    /** A short name for messages. */
    default String name() {
        return getClass().getSimpleName();
    }
}
