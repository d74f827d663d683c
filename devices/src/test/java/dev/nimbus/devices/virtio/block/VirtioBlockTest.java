package dev.nimbus.devices.virtio.block;

import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.host.DiskImage;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_NEXT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * virtio-blk requests (virtio 1.2, 5.2.6) against a real 64 KiB image file: header {type le32, reserved
 * le32, sector le64} in a readable descriptor, data, then a one-byte status in a writable one.
 */
class VirtioBlockTest {
    static final long DESC = 0x1_0000;
    static final long AVAIL = 0x2_0000;
    static final long USED = 0x3_0000;
    static final long HEADER = 0x10_0000;
    static final long DATA = 0x11_0000;
    static final long STATUS = 0x12_0000;
    static final int IMAGE_SIZE = 64 * 1024;

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
    final VirtQueue queue = new VirtQueue(memory, VirtioBlock.QUEUE_SIZE);
    @TempDir
    Path dir;
    Path image;
    byte[] original;
    int offered;

    @BeforeEach
    void setUp() throws Exception {
        original = new byte[IMAGE_SIZE];
        for (int i = 0; i < original.length; i++) {
            original[i] = (byte) (i / VirtioBlock.SECTOR_SIZE + i);
        }
        image = dir.resolve("disk.raw");
        Files.write(image, original);
        queue.setSize(16);
        queue.setDescTable(DESC);
        queue.setAvailRing(AVAIL);
        queue.setUsedRing(USED);
        queue.setReady(true);
        queue.activate(false, false);
    }

    @AfterEach
    void close() {
        memory.close();
    }

    void descriptor(int index, long addr, int len, int flags, int next) throws Exception {
        memory.writeLong(DESC + 16L * index, addr);
        memory.writeInt(DESC + 16L * index + 8, len);
        memory.writeShort(DESC + 16L * index + 12, (short) flags);
        memory.writeShort(DESC + 16L * index + 14, (short) next);
    }

    void header(int type, long sector) throws Exception {
        memory.writeInt(HEADER, type);
        memory.writeInt(HEADER + 4, 0);
        memory.writeLong(HEADER + 8, sector);
    }

    /** header, one data descriptor (readable or writable), status; returns the used length. */
    int request(int type, long sector, int dataLength, boolean deviceWritesData, boolean readOnly) throws Exception {
        header(type, sector);
        memory.writeByte(STATUS, (byte) 0x7f);
        descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
        descriptor(1, DATA, dataLength, (deviceWritesData ? DESC_F_WRITE : 0) | DESC_F_NEXT, 2);
        descriptor(2, STATUS, 1, DESC_F_WRITE, 0);
        offer(0);
        return process(readOnly);
    }

    void offer(int head) throws Exception {
        memory.writeShort(AVAIL + 4 + 2L * (offered % 16), (short) head);
        offered++;
        memory.writeShort(AVAIL + 2, (short) offered);
    }

    int process(boolean readOnly) throws Exception {
        try (FileChannel ch = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            new VirtioBlock(ch, readOnly, "nimbus-disk-0").process(0, queue);
        }
        return memory.readInt(USED + 4 + 8L * ((offered - 1) % 16) + 4);
    }

    byte status() throws Exception {
        return memory.readByte(STATUS);
    }

    @Test
    void readFillsGuestBuffersFromTheImage() throws Exception {
        int used = request(VirtioBlock.T_IN, 3, 1024, true, false);
        byte[] data = new byte[1024];
        memory.read(DATA, data);
        assertThat(data).isEqualTo(Arrays.copyOfRange(original, 3 * 512, 3 * 512 + 1024));
        assertThat(status()).isEqualTo(VirtioBlock.S_OK);
        assertThat(used).isEqualTo(1024 + 1);
    }

    @Test
    void writeStoresGuestBytesInTheImage() throws Exception {
        byte[] data = new byte[512];
        Arrays.fill(data, (byte) 0xc3);
        memory.write(DATA, data);
        int used = request(VirtioBlock.T_OUT, 10, 512, false, false);
        byte[] onDisk = Files.readAllBytes(image);
        assertThat(Arrays.copyOfRange(onDisk, 10 * 512, 11 * 512)).isEqualTo(data);
        assertThat(Arrays.copyOfRange(onDisk, 0, 10 * 512)).isEqualTo(Arrays.copyOfRange(original, 0, 10 * 512));
        assertThat(status()).isEqualTo(VirtioBlock.S_OK);
        assertThat(used).isEqualTo(1);
    }

    @Test
    void writeToAReadOnlyDiskFailsWithIoErr() throws Exception {
        request(VirtioBlock.T_OUT, 0, 512, false, true);
        assertThat(status()).isEqualTo(VirtioBlock.S_IOERR);
        assertThat(Files.readAllBytes(image)).isEqualTo(original);
    }

    @Test
    void readPastTheCapacityFailsWithIoErr() throws Exception {
        request(VirtioBlock.T_IN, IMAGE_SIZE / 512 - 1, 1024, true, false);
        assertThat(status()).isEqualTo(VirtioBlock.S_IOERR);
    }

    @Test
    void hugeSectorNumberFailsWithIoErr() throws Exception {
        request(VirtioBlock.T_IN, Long.MAX_VALUE / 256, 512, true, false);
        assertThat(status()).isEqualTo(VirtioBlock.S_IOERR);
    }

    @Test
    void partialSectorFailsWithIoErr() throws Exception {
        request(VirtioBlock.T_IN, 0, 100, true, false);
        assertThat(status()).isEqualTo(VirtioBlock.S_IOERR);
    }

    @Test
    void flushSucceeds() throws Exception {
        header(VirtioBlock.T_FLUSH, 0);
        descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
        descriptor(1, STATUS, 1, DESC_F_WRITE, 0);
        memory.writeByte(STATUS, (byte) 0x7f);
        offer(0);
        assertThat(process(false)).isEqualTo(1);
        assertThat(status()).isEqualTo(VirtioBlock.S_OK);
    }

    @Test
    void getIdReturnsTheSerialNulPadded() throws Exception {
        memory.fill(DATA, 20, (byte) 0xff);
        int used = request(VirtioBlock.T_GET_ID, 0, 20, true, false);
        byte[] id = new byte[20];
        memory.read(DATA, id);
        assertThat(new String(id, 0, 13)).isEqualTo("nimbus-disk-0");
        assertThat(Arrays.copyOfRange(id, 13, 20)).containsOnly(0);
        assertThat(used).isEqualTo(21);
        assertThat(status()).isEqualTo(VirtioBlock.S_OK);
    }

    @Test
    void unknownRequestTypeIsUnsupported() throws Exception {
        request(99, 0, 512, true, false);
        assertThat(status()).isEqualTo(VirtioBlock.S_UNSUPP);
    }

    @Test
    void headerSplitAcrossDescriptorsIsParsed() throws Exception {
        header(VirtioBlock.T_IN, 2);
        descriptor(0, HEADER, 6, DESC_F_NEXT, 1);
        descriptor(1, HEADER + 6, 10, DESC_F_NEXT, 2);
        descriptor(2, DATA, 512, DESC_F_WRITE | DESC_F_NEXT, 3);
        descriptor(3, STATUS, 1, DESC_F_WRITE, 0);
        offer(0);
        process(false);
        byte[] data = new byte[512];
        memory.read(DATA, data);
        assertThat(data).isEqualTo(Arrays.copyOfRange(original, 1024, 1536));
    }

    @Test
    void requestWithoutStatusByteIsReturnedUnanswered() throws Exception {
        header(VirtioBlock.T_IN, 0);
        descriptor(0, HEADER, 16, 0, 0);
        offer(0);
        assertThat(process(false)).isZero();
        assertThat(memory.readShort(USED + 2)).isEqualTo((short) 1);
    }

    @Test
    void configurationGivesCapacityInSectors() throws Exception {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            VirtioBlock blk = new VirtioBlock(ch, true, "x");
            assertThat(blk.readConfig(0, 8)).isEqualTo(IMAGE_SIZE / 512);
            assertThat(blk.readConfig(20, 4)).isEqualTo(512);
            assertThat(blk.deviceFeatures() & (1L << VirtioBlock.F_RO)).isNotZero();
        }
    }

    /** The image through a channel that counts {@code force} calls (fdatasync when metadata is false). */
    static final class ForceCounting extends FileChannel {
        final FileChannel in;
        int forces;
        /** Calls that move data: positional ones (one buffer each), and vectored ones. */
        int positional;
        int vectored;

        ForceCounting(FileChannel in) {
            this.in = in;
        }

        @Override public void force(boolean metaData) throws java.io.IOException { forces++; in.force(metaData); }
        @Override public int read(java.nio.ByteBuffer dst) throws java.io.IOException { return in.read(dst); }
        @Override public long read(java.nio.ByteBuffer[] dsts, int offset, int length) throws java.io.IOException { vectored++; return in.read(dsts, offset, length); }
        @Override public int write(java.nio.ByteBuffer src) throws java.io.IOException { return in.write(src); }
        @Override public long write(java.nio.ByteBuffer[] srcs, int offset, int length) throws java.io.IOException { vectored++; return in.write(srcs, offset, length); }
        @Override public long position() throws java.io.IOException { return in.position(); }
        @Override public FileChannel position(long newPosition) throws java.io.IOException { in.position(newPosition); return this; }
        @Override public long size() throws java.io.IOException { return in.size(); }
        @Override public FileChannel truncate(long size) throws java.io.IOException { in.truncate(size); return this; }
        @Override public long transferTo(long position, long count, java.nio.channels.WritableByteChannel target) throws java.io.IOException { return in.transferTo(position, count, target); }
        @Override public long transferFrom(java.nio.channels.ReadableByteChannel src, long position, long count) throws java.io.IOException { return in.transferFrom(src, position, count); }
        @Override public int read(java.nio.ByteBuffer dst, long position) throws java.io.IOException { positional++; return in.read(dst, position); }
        @Override public int write(java.nio.ByteBuffer src, long position) throws java.io.IOException { positional++; return in.write(src, position); }
        @Override public java.nio.MappedByteBuffer map(MapMode mode, long position, long size) throws java.io.IOException { return in.map(mode, position, size); }
        @Override public java.nio.channels.FileLock lock(long position, long size, boolean shared) throws java.io.IOException { return in.lock(position, size, shared); }
        @Override public java.nio.channels.FileLock tryLock(long position, long size, boolean shared) throws java.io.IOException { return in.tryLock(position, size, shared); }
        @Override protected void implCloseChannel() throws java.io.IOException { in.close(); }
    }

    /**
     * A request of 14 one-sector buffers, laid out in guest memory in the reverse of their order in the chain:
     * written to the image in chain order, read back the same, each with one vectored call.
     */
    @Test
    void aRequestOfManyBuffersIsOneVectoredCallInChainOrder() throws Exception {
        int buffers = 14;
        try (ForceCounting ch = new ForceCounting(FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE))) {
            VirtioBlock blk = new VirtioBlock(ch, false, "vectored");
            blk.activate(1L << 32 | 1L << VirtioBlock.F_FLUSH);
            byte[] expected = new byte[buffers * VirtioBlock.SECTOR_SIZE];
            header(VirtioBlock.T_OUT, 3);
            descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
            for (int i = 0; i < buffers; i++) {
                byte[] sector = new byte[VirtioBlock.SECTOR_SIZE];
                Arrays.fill(sector, (byte) (0x40 + i));
                System.arraycopy(sector, 0, expected, i * VirtioBlock.SECTOR_SIZE, sector.length);
                long at = DATA + (long) (buffers - 1 - i) * 4096;
                memory.write(at, sector);
                descriptor(1 + i, at, VirtioBlock.SECTOR_SIZE, DESC_F_NEXT, 2 + i);
            }
            descriptor(1 + buffers, STATUS, 1, DESC_F_WRITE, 0);
            offer(0);
            blk.process(0, queue);
            assertThat(status()).isEqualTo(VirtioBlock.S_OK);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(image), 3 * VirtioBlock.SECTOR_SIZE, (3 + buffers) * VirtioBlock.SECTOR_SIZE))
                    .isEqualTo(expected);
            assertThat(ch.vectored).isEqualTo(1);

            // and back: the guest's buffers cleared, then read from the image
            for (int i = 0; i < buffers; i++) {
                memory.write(DATA + (long) i * 4096, new byte[VirtioBlock.SECTOR_SIZE]);
            }
            header(VirtioBlock.T_IN, 3);
            for (int i = 0; i < buffers; i++) {
                descriptor(1 + i, DATA + (long) (buffers - 1 - i) * 4096, VirtioBlock.SECTOR_SIZE, DESC_F_NEXT | DESC_F_WRITE, 2 + i);
            }
            offer(0);
            blk.process(0, queue);
            assertThat(status()).isEqualTo(VirtioBlock.S_OK);
            for (int i = 0; i < buffers; i++) {
                byte[] got = new byte[VirtioBlock.SECTOR_SIZE];
                memory.read(DATA + (long) (buffers - 1 - i) * 4096, got);
                assertThat(got).as("buffer %d", i).containsOnly((byte) (0x40 + i));
            }
            assertThat(ch.vectored).isEqualTo(2);
            assertThat(ch.positional).isZero();
        }
    }

    /** One write request of a sector at sector 2 into a device that negotiated {@code features}; the forces it took. */
    private int forcesForOneWrite(ForceCounting ch, VirtioBlock blk) throws Exception {
        header(VirtioBlock.T_OUT, 2);
        memory.write(DATA, new byte[VirtioBlock.SECTOR_SIZE]);
        descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
        descriptor(1, DATA, VirtioBlock.SECTOR_SIZE, DESC_F_NEXT, 2);
        descriptor(2, STATUS, 1, DESC_F_WRITE, 0);
        offer(0);
        int before = ch.forces;
        blk.process(0, queue);
        assertThat(status()).isEqualTo(VirtioBlock.S_OK);
        return ch.forces - before;
    }

    @Test
    void withFlushNegotiatedWritesAreWriteBackAndFlushForcesTheImage() throws Exception {
        try (ForceCounting ch = new ForceCounting(FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE))) {
            VirtioBlock blk = new VirtioBlock(ch, false, "x");
            blk.activate(1L << 32 | 1L << VirtioBlock.F_FLUSH);
            assertThat(forcesForOneWrite(ch, blk)).as("a write waits in the host's page cache").isZero();

            header(VirtioBlock.T_FLUSH, 0);
            descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
            descriptor(1, STATUS, 1, DESC_F_WRITE, 0);
            offer(0);
            blk.process(0, queue);
            assertThat(status()).isEqualTo(VirtioBlock.S_OK);
            assertThat(ch.forces).as("FLUSH is an fdatasync").isEqualTo(1);
        }
    }

    @Test
    void withoutFlushNegotiatedEveryWriteIsOnDiskBeforeItCompletes() throws Exception {
        try (ForceCounting ch = new ForceCounting(FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE))) {
            VirtioBlock blk = new VirtioBlock(ch, false, "x");
            blk.activate(1L << 32);
            assertThat(forcesForOneWrite(ch, blk)).as("write-through: the driver has no FLUSH to ask for it (virtio 1.2, 5.2.6.2)").isEqualTo(1);
        }
    }

    /**
     * direct=on: the image open with O_DIRECT (a file under the build's target directory: a disk file
     * system). A request whose guest buffers are page-aligned goes straight from guest memory; one at odd
     * addresses and lengths (whole sectors in all) goes through the bounce buffer, with the same bytes.
     */
    @Test
    void directImageServesAlignedBuffersInPlaceAndBouncesOddOnes() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "virtio-block-test")).toAbsolutePath();
        Path onDisk = Files.createTempFile(dir, "direct", ".raw");
        onDisk.toFile().deleteOnExit();
        Files.write(onDisk, original);
        org.junit.jupiter.api.Assumptions.assumeFalse("tmpfs".equals(Files.getFileStore(onDisk).type()), "target/ is on tmpfs here");
        try (DiskImage image = DiskImage.open(onDisk, false, true)) {
            VirtioBlock blk = new VirtioBlock(BlockBackend.of(image), false, "direct", VirtioBlock.QUEUE_SIZE, 1);
            blk.activate(1L << 32 | 1L << VirtioBlock.F_FLUSH);
            assertThat(blk.readConfig(20, 4)).as("blk_size: the direct I/O alignment").isEqualTo(image.alignment());

            // aligned: one page of guest memory, read in place
            request(VirtioBlock.T_IN, 8, 4096, true, false, blk);
            assertThat(status()).isEqualTo(VirtioBlock.S_OK);
            byte[] got = new byte[4096];
            memory.read(DATA, got);
            assertThat(got).isEqualTo(Arrays.copyOfRange(original, 8 * 512, 8 * 512 + 4096));
            assertThat(image.bouncedRequests()).isZero();

            // odd: 700 + 324 bytes at odd guest addresses, written then read back
            byte[] data = new byte[1024];
            new java.util.Random(3).nextBytes(data);
            memory.write(DATA + 3, Arrays.copyOfRange(data, 0, 700));
            memory.write(DATA + 0x2001, Arrays.copyOfRange(data, 700, 1024));
            header(VirtioBlock.T_OUT, 20);
            descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
            descriptor(1, DATA + 3, 700, DESC_F_NEXT, 2);
            descriptor(2, DATA + 0x2001, 324, DESC_F_NEXT, 3);
            descriptor(3, STATUS, 1, DESC_F_WRITE, 0);
            offer(0);
            blk.process(0, queue);
            assertThat(status()).isEqualTo(VirtioBlock.S_OK);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(onDisk), 20 * 512, 22 * 512)).isEqualTo(data);
            assertThat(image.bouncedRequests()).isEqualTo(1);

            memory.fill(DATA, 0x3000, (byte) 0);
            header(VirtioBlock.T_IN, 20);
            descriptor(1, DATA + 5, 324, DESC_F_NEXT | DESC_F_WRITE, 2);
            descriptor(2, DATA + 0x2007, 700, DESC_F_NEXT | DESC_F_WRITE, 3);
            offer(0);
            blk.process(0, queue);
            assertThat(status()).isEqualTo(VirtioBlock.S_OK);
            byte[] first = new byte[324];
            byte[] second = new byte[700];
            memory.read(DATA + 5, first);
            memory.read(DATA + 0x2007, second);
            assertThat(first).isEqualTo(Arrays.copyOfRange(data, 0, 324));
            assertThat(second).isEqualTo(Arrays.copyOfRange(data, 324, 1024));
            assertThat(image.bouncedRequests()).isEqualTo(2);
        }
    }

    /** {@link #request} on a device the test made. */
    void request(int type, long sector, int dataLength, boolean deviceWritesData, boolean readOnly, VirtioBlock blk) throws Exception {
        header(type, sector);
        memory.writeByte(STATUS, (byte) 0x7f);
        descriptor(0, HEADER, 16, DESC_F_NEXT, 1);
        descriptor(1, DATA, dataLength, (deviceWritesData ? DESC_F_WRITE : 0) | DESC_F_NEXT, 2);
        descriptor(2, STATUS, 1, DESC_F_WRITE, 0);
        offer(0);
        blk.process(0, queue);
    }
}
