package dev.nimbus.devices.virtio.rng;

import dev.nimbus.devices.virtio.DescriptorChain;
import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** virtio entropy device (virtio 1.2, 5.4): the driver posts write-only buffers, the device fills them. */
class VirtioRngTest {
    static final long DESC = 0x1_0000;
    static final long AVAIL = 0x2_0000;
    static final long USED = 0x3_0000;
    static final long DATA = 0x10_0000;

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
    final VirtQueue queue = new VirtQueue(memory, VirtioRng.QUEUE_SIZE);

    @TempDir
    Path dir;

    @AfterEach
    void close() {
        memory.close();
    }

    void setUp() throws Exception {
        queue.setSize(8);
        queue.setDescTable(DESC);
        queue.setAvailRing(AVAIL);
        queue.setUsedRing(USED);
        queue.setReady(true);
        queue.activate(false, false);
    }

    void descriptor(int index, long addr, int len, int flags, int next) throws Exception {
        memory.writeLong(DESC + 16L * index, addr);
        memory.writeInt(DESC + 16L * index + 8, len);
        memory.writeShort(DESC + 16L * index + 12, (short) flags);
        memory.writeShort(DESC + 16L * index + 14, (short) next);
    }

    void offer(int slot, int head) throws Exception {
        memory.writeShort(AVAIL + 4 + 2L * slot, (short) head);
        memory.writeShort(AVAIL + 2, (short) (slot + 1));
    }

    Path source(byte[] bytes) throws Exception {
        Path p = dir.resolve("entropy");
        Files.write(p, bytes);
        return p;
    }

    @Test
    void rngFillsWritableBuffersFromSource() throws Exception {
        byte[] bytes = new byte[96];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (0xa0 + i);
        }
        setUp();
        descriptor(0, DATA, 64, VirtQueue.DESC_F_WRITE | VirtQueue.DESC_F_NEXT, 1);
        descriptor(1, DATA + 0x1000, 32, VirtQueue.DESC_F_WRITE, 0);
        offer(0, 0);
        try (FileChannel ch = FileChannel.open(source(bytes), StandardOpenOption.READ)) {
            new VirtioRng(ch).process(0, queue);
        }
        byte[] first = new byte[64];
        byte[] second = new byte[32];
        memory.read(DATA, first);
        memory.read(DATA + 0x1000, second);
        assertThat(first).isEqualTo(java.util.Arrays.copyOfRange(bytes, 0, 64));
        assertThat(second).isEqualTo(java.util.Arrays.copyOfRange(bytes, 64, 96));
        assertThat(memory.readShort(USED + 2)).isEqualTo((short) 1);
        assertThat(memory.readInt(USED + 4)).isZero(); // id
        assertThat(memory.readInt(USED + 8)).isEqualTo(96); // len
    }

    @Test
    void rngReportsOnlyTheBytesTheSourceGave() throws Exception {
        setUp();
        descriptor(0, DATA, 64, VirtQueue.DESC_F_WRITE, 0);
        offer(0, 0);
        try (FileChannel ch = FileChannel.open(source(new byte[10]), StandardOpenOption.READ)) {
            new VirtioRng(ch).process(0, queue);
        }
        assertThat(memory.readInt(USED + 8)).isEqualTo(10);
    }

    @Test
    void oneRequestGetsAtMostTheCapHoweverLargeItsBuffers() throws Exception {
        setUp();
        // eight descriptors, each over the same 1 MiB of RAM: 8 MiB asked for in one chain
        for (int i = 0; i < 8; i++) {
            descriptor(i, DATA, 1 << 20, VirtQueue.DESC_F_WRITE | (i < 7 ? VirtQueue.DESC_F_NEXT : 0), i + 1);
        }
        offer(0, 0);
        try (FileChannel ch = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ)) {
            new VirtioRng(ch).process(0, queue);
        }
        assertThat(memory.readShort(USED + 2)).isEqualTo((short) 1);
        assertThat(memory.readInt(USED + 8)).as("bytes written").isEqualTo(VirtioRng.MAX_REQUEST_BYTES);
        byte[] after = new byte[4096];
        memory.read(DATA + VirtioRng.MAX_REQUEST_BYTES, after);
        assertThat(after).as("nothing written past the cap").containsOnly((byte) 0);
    }

    @Test
    void rngServesEveryAvailableRequest() throws Exception {
        setUp();
        descriptor(0, DATA, 16, VirtQueue.DESC_F_WRITE, 0);
        descriptor(1, DATA + 0x100, 16, VirtQueue.DESC_F_WRITE, 0);
        offer(0, 0);
        offer(1, 1);
        try (FileChannel ch = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ)) {
            new VirtioRng(ch).process(0, queue);
        }
        assertThat(memory.readShort(USED + 2)).isEqualTo((short) 2);
        assertThat(memory.readInt(USED + 12)).isEqualTo(1);
        assertThat(memory.readInt(USED + 16)).isEqualTo(16);
        DescriptorChain none = queue.pop();
        assertThat(none).isNull();
    }
}
