package dev.nimbus.devices.virtio.rng;

import dev.nimbus.devices.virtio.DescriptorChain;
import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.VirtQueueException;
import dev.nimbus.devices.virtio.VirtioDevice;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * The virtio entropy device (virtio 1.2, 5.4; {@code --rng src=/dev/urandom}): one request queue whose
 * chains are device-writable buffers, each filled from the source straight into guest memory. A source
 * that fails or ends leaves the rest of the request unfilled and returns what was written (the driver
 * asks again); the failure is logged once.
 *
 * <p>One request gets at most {@link #MAX_REQUEST_BYTES}, however large its buffers: a chain of 256
 * descriptors, each over the whole of the guest's RAM, would otherwise keep the device busy for minutes
 * (and a pause or shutdown waiting on it). The rest of the chain stays unfilled; the used length says so,
 * which the spec allows (the driver asks again for what it still wants).
 */
public final class VirtioRng implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioRng.class.getName());
    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 256;
    /** The most bytes one request is given (Linux asks for at most a page at a time). */
    public static final int MAX_REQUEST_BYTES = 64 << 10;

    private final ReadableByteChannel source;
    private boolean sourceFailureLogged;

    /** Entropy from {@code source} (a {@code FileChannel} on /dev/urandom, say); the caller owns and closes it. */
    public VirtioRng(ReadableByteChannel source) {
        this.source = source;
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return 0;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public void process(int index, VirtQueue queue) throws VirtQueueException {
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            queue.addUsed(chain.head(), fill(chain));
        }
    }

    /**
     * Fills one request's device-writable buffers from the source, in order, and returns the bytes written:
     * at most {@link #MAX_REQUEST_BYTES}, fewer where the source failed or ended. This is the used length
     * {@link #process} returns the chain with.
     */
    public int fill(DescriptorChain chain) {
        long written = 0;
        for (ByteBuffer whole : chain.writable()) {
            if (written >= MAX_REQUEST_BYTES) {
                break;
            }
            ByteBuffer buffer = whole.slice(whole.position(), (int) Math.min(whole.remaining(), MAX_REQUEST_BYTES - written));
            try {
                while (buffer.hasRemaining()) {
                    int n = source.read(buffer);
                    if (n < 0) {
                        throw new IOException("the entropy source ended");
                    }
                    written += n;
                }
            } catch (IOException e) {
                if (!sourceFailureLogged) {
                    sourceFailureLogged = true;
                    LOG.log(Level.WARNING, "virtio-rng: reading the entropy source failed: {0}", e.getMessage());
                }
                break;
            }
        }
        return (int) Math.min(written, Integer.MAX_VALUE);
    }

    @Override
    public String stateId() {
        return "virtio-rng"; // nothing beyond the transport's state
    }

    @Override
    public String name() {
        return "virtio-rng";
    }
}
