package dev.nimbus.devices.virtio;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * A virtio device type (rng, block...) as its transport sees it: what it offers and how it serves its
 * queues. The transport ({@link VirtioPciDevice}) owns feature negotiation, the status state machine, the
 * queues' configuration and interrupts; the device only turns available chains into used ones.
 *
 * <p>The transport calls every method under its own lock, so a device needs no locking of its own for
 * state it touches only from these calls. A device that finishes requests on threads of its own
 * ({@link #ioThreads()}) gives them back through {@link Completions}, which takes that lock.
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

    /**
     * Host descriptors the device's worker waits on besides the queues' notifications (a tap's frames),
     * watched for readability; none for most devices.
     */
    default int[] hostFds() {
        return new int[0];
    }

    /**
     * Host descriptor {@code index} of {@link #hostFds()} is readable and the device is live (DRIVER_OK,
     * not DEVICE_NEEDS_RESET): serve it with {@code queues}. The transport calls it under its lock and
     * then decides on each queue's interrupt, as after {@link #process}.
     */
    default void hostFdReady(int index, List<VirtQueue> queues) throws VirtQueueException {}

    /**
     * Host descriptor {@code index} is readable while the device is not live (before DRIVER_OK, or broken):
     * the device must take what is waiting (a network card with no driver drops frames) so that a
     * level-triggered wait does not spin.
     */
    default void hostFdIdle(int index) {}

    /**
     * Whether the worker should wait on host descriptor {@code index} now: false while the device cannot
     * make progress with it (no receive buffers), until a queue notification changes that. The worker asks
     * after everything it dispatches.
     */
    default boolean hostFdWanted(int index) {
        return true;
    }

    /**
     * The driver reset the device: forget negotiated state. A device that serves requests on other threads
     * ({@link #ioThreads()}) returns only once none of them will touch guest memory again (waiting, within a
     * bound, for those under way; dropping those not started).
     */
    default void reset() {}

    /**
     * How many threads the device wants for requests it serves off the worker thread (file I/O that may
     * block); 0, for most devices, serves everything in {@link #process} on the worker. The device's
     * {@link VirtioWorker} makes them, starts them with itself and stops them when it closes.
     */
    default int ioThreads() {
        return 0;
    }

    /**
     * Where requests finish off the worker thread: the transport hands in its {@link Completions} (once,
     * when it wraps the device), the worker its executor over {@link #ioThreads()} threads. Until a device
     * has both it serves requests in {@link #process} on the calling thread.
     */
    default void connect(Completions completions) {}

    /** See {@link #connect(Completions)}: the executor of the device's I/O threads. */
    default void useExecutor(java.util.concurrent.Executor executor) {}

    /**
     * The worker's thread: a device with I/O threads may keep back a lone request that {@link #process} took
     * on this thread, with nothing else under way, and serve it in {@link #serveKeptBack()}, which the worker
     * calls on this thread right after, outside the transport's lock. That spares the request two thread
     * hand-offs when the driver has one request at a time in flight. Nothing by default.
     */
    default void serveKeptBackOn(Thread worker) {}

    /** Serves what {@link #process} kept back on the worker's thread, if anything (see {@link #serveKeptBackOn}). */
    default void serveKeptBack() {}

    /**
     * Waits, at most {@code timeoutMillis}, until every request the device took from its queues has been
     * given back (or dropped by a reset): a paused machine's devices then touch guest memory no more. True
     * when none is left. Called without the transport's lock; the worker is parked.
     */
    default boolean quiesce(long timeoutMillis) throws InterruptedException {
        return true;
    }

    /**
     * The machine is going away: requests not started are dropped, those under way waited for, at most
     * {@code timeoutMillis}; none is given back to the driver. Called without the transport's lock.
     */
    default void stopIo(long timeoutMillis) {}

    /**
     * What the device has done so far, by counter name (Cloud Hypervisor's names where it has them:
     * {@code read_bytes}, {@code write_ops}, {@code rx_bytes}...), for {@code vm.counters}. May be called
     * from any thread.
     */
    default Map<String, Long> counters() {
        return Map.of();
    }

    // ---- saved state (nested in the transport's, VirtioPciDevice#saveState) ----

    /** The format of the device's own state ({@code "virtio-blk"}); by default a stateless one per device type. */
    default String stateId() {
        return "virtio-type-" + deviceType();
    }

    /**
     * The device's own state beyond the transport's (which holds features, status, queues and their indices):
     * configuration the driver cannot rebuild, chains the device holds, input waiting. Called while the machine
     * is paused and nothing is in flight. None by default (version 1, no bytes).
     */
    default DeviceState saveState() {
        return new DeviceState(stateId(), 1, new byte[0]);
    }

    /**
     * Takes back what {@link #saveState()} saved, into this fresh device, before its transport is restored:
     * everything is checked before anything changes, and a state it cannot take is refused with a
     * {@link DeviceStateException}, leaving the device as it was. What needs the restored queues waits for
     * {@link #restored}.
     */
    default void restoreState(DeviceState state) {
        state.require(stateId(), 1);
        if (state.data().length != 0) {
            throw new DeviceStateException(stateId() + ": " + state.data().length + " bytes of state, expected none");
        }
    }

    /**
     * After a restore of a driver-ready device: the transport's queues are active again at their saved indices
     * and {@link #activate} was called with the negotiated features, as when the driver set DRIVER_OK. A
     * device that held chains takes them back here ({@link VirtQueue#reclaim}). A {@link VirtQueueException}
     * puts the device into DEVICE_NEEDS_RESET.
     */
    default void restored(List<VirtQueue> queues) throws VirtQueueException {}

    /** A short name for messages. */
    default String name() {
        return getClass().getSimpleName();
    }

    /**
     * A driver read of {@code size} bytes at {@code offset} of a device configuration kept as bytes in
     * {@code config} (from index 0, little-endian as virtio 1.x has it); bytes past its end read as zero.
     */
    static long readLittleEndian(ByteBuffer config, int offset, int size) {
        long v = 0;
        for (int i = 0; i < size && offset + i < config.capacity(); i++) {
            v |= (config.get(offset + i) & 0xffL) << (8 * i);
        }
        return v;
    }
}
