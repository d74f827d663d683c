package dev.nimbus.devices.virtio;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * One request the driver made available: the chain starting at descriptor {@code head}, resolved (through
 * an indirect table where there is one) into views of guest memory. The device-readable buffers come
 * first in the chain, then the device-writable ones (virtio 1.2, 2.7.4.2); each view reads or writes guest
 * RAM directly. Give the chain back with {@link VirtQueue#addUsed(int, int)}.
 */
public record DescriptorChain(int head, List<ByteBuffer> readable, List<ByteBuffer> writable) {
    /** Bytes the device may read. */
    public long readableBytes() {
        return total(readable);
    }

    /** Bytes the device may write. */
    public long writableBytes() {
        return total(writable);
    }

    private static long total(List<ByteBuffer> buffers) {
        long n = 0;
        for (ByteBuffer b : buffers) {
            n += b.remaining();
        }
        return n;
    }
}
