package dev.nimbus.devices.virtio;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.virtio.block.VirtioBlock;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz targets for what a guest hands a virtio device: the fuzzer writes the descriptor table and the
 * available ring (laid out tight at the bottom of a 1 MiB guest, so that short inputs reach them; the
 * buffers are wherever the descriptors point), picks the queue's size (up to 16) and features, and the
 * device serves the queue. Invariants: the only failure is a {@link VirtQueueException} (the device then
 * needs a reset); every buffer the queue hands out lies in guest RAM; a queue hands out at most its size of
 * chains before the driver returns any; the block device never changes its image's size, never writes a
 * read-only image, and answers every request it returns with a status byte; the rng fills at most its cap.
 */
class VirtioFuzzTest {
    static final long RAM = 1 << 20;
    static final long DESC = 0x000;
    static final long AVAIL = 0x100;
    static final long USED = 0x200;

    /** A queue over a guest the fuzzer wrote; null when the fuzzer's ring setup is refused at activation. */
    static VirtQueue queue(GuestMemory memory, FuzzedDataProvider data) throws Exception {
        int size = 1 << data.consumeInt(0, 4);
        boolean eventIdx = data.consumeBoolean();
        boolean indirect = data.consumeBoolean();
        memory.write(0, data.consumeBytes((int) USED)); // descriptors and available ring
        VirtQueue q = new VirtQueue(memory, 256);
        q.setSize(size);
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.setReady(true);
        try {
            q.activate(eventIdx, indirect);
        } catch (VirtQueueException refused) {
            return null;
        }
        return q;
    }

    @FuzzTest(maxDuration = "30s")
    void aQueueHandsOutOnlyChainsInGuestRam(FuzzedDataProvider data) throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)))) {
            VirtQueue q = queue(memory, data);
            if (q == null) {
                return;
            }
            int popped = 0;
            try {
                DescriptorChain chain;
                while ((chain = q.pop()) != null) {
                    popped++;
                    assertThat(popped).as("chains out at once").isLessThanOrEqualTo(q.size());
                    long total = 0;
                    for (ByteBuffer b : chain.readable()) {
                        total += b.remaining();
                    }
                    for (ByteBuffer b : chain.writable()) {
                        total += b.remaining();
                    }
                    // every buffer is a view of guest RAM (memory.buffer checks), so no chain can hold more than
                    // the queue size times the RAM
                    assertThat(total).isLessThanOrEqualTo(RAM * q.size());
                }
            } catch (VirtQueueException expected) {
                // a broken ring: the device needs a reset, which is the contract
            }
        }
    }

    @FuzzTest(maxDuration = "30s")
    void theBlockDeviceKeepsItsImageWhole(FuzzedDataProvider data) throws Exception {
        boolean readOnly = data.consumeBoolean();
        boolean flush = data.consumeBoolean();
        Path image = Files.createTempFile("fuzz", ".raw");
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)))) {
            byte[] original = new byte[8 * VirtioBlock.SECTOR_SIZE];
            Arrays.fill(original, (byte) 0x5a);
            Files.write(image, original);
            VirtQueue q = queue(memory, data);
            if (q == null) {
                return;
            }
            try (FileChannel ch = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                    : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                VirtioBlock blk = new VirtioBlock(ch, readOnly, "fuzz", 256);
                blk.activate(flush ? 1L << VirtioBlock.F_FLUSH : 0);
                try {
                    blk.process(0, q);
                } catch (VirtQueueException expected) {
                    // a broken ring
                }
            }
            assertThat(Files.size(image)).as("image size").isEqualTo(original.length);
            if (readOnly) {
                assertThat(Files.readAllBytes(image)).as("a read-only image").isEqualTo(original);
            }
        } finally {
            Files.deleteIfExists(image);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void theRngFillsAtMostItsCapPerRequest(FuzzedDataProvider data) throws Exception {
        // The requests are served here one by one, as process() does, because the used ring cannot be read
        // back: a request's buffers may lie over the rings themselves and the rng overwrites them at random.
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)));
             FileChannel urandom = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ)) {
            VirtQueue q = queue(memory, data);
            if (q == null) {
                return;
            }
            long[] drawn = {0};
            ReadableByteChannel counting = new ReadableByteChannel() {
                @Override
                public int read(ByteBuffer dst) throws IOException {
                    int n = urandom.read(dst);
                    drawn[0] += Math.max(n, 0);
                    return n;
                }

                @Override
                public boolean isOpen() {
                    return true;
                }

                @Override
                public void close() {
                }
            };
            VirtioRng rng = new VirtioRng(counting);
            try {
                DescriptorChain chain;
                for (int served = 0; served < 1024 && (chain = q.pop()) != null; served++) {
                    long before = drawn[0];
                    int given = rng.fill(chain);
                    assertThat(given).as("bytes given to one request").isBetween(0, VirtioRng.MAX_REQUEST_BYTES);
                    assertThat(drawn[0] - before).as("bytes drawn for one request").isEqualTo(given);
                    q.addUsed(chain.head(), given);
                }
            } catch (VirtQueueException expected) {
                // a broken ring
            }
        }
    }
}
