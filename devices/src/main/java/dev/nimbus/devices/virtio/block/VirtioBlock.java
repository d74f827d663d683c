package dev.nimbus.devices.virtio.block;

import dev.nimbus.devices.log.RateLimitedLog;
import dev.nimbus.devices.virtio.DescriptorChain;
import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.VirtQueueException;
import dev.nimbus.devices.virtio.VirtioDevice;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The virtio block device (virtio 1.2, 5.2) on a raw image file: one request queue; each request is a
 * 16-byte header (type le32, reserved le32, sector le64), data buffers, and a status byte the device
 * writes last. Reads and writes go between the file and guest memory through {@link FileChannel} on the
 * guest's own buffers, with no copy; FLUSH is {@code fdatasync}; GET_ID returns the serial. Writes are
 * write-back (in the host's page cache until a FLUSH) when the driver negotiated VIRTIO_BLK_F_FLUSH, and
 * write-through (each one synced before it completes) when it did not, as the spec requires of a device
 * whose driver has no way to ask for a flush (virtio 1.2, 5.2.6.2).
 *
 * <p>A request that is out of range, not whole sectors, or a write to a read-only disk completes with
 * VIRTIO_BLK_S_IOERR; an unknown type with VIRTIO_BLK_S_UNSUPP. A request with no header or no room for
 * the status byte cannot be answered: it is returned unused and logged once.
 */
public final class VirtioBlock implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioBlock.class.getName());
    /** A failing image fails every request the guest makes: one line per disk per interval. */
    private final RateLimitedLog guestLog = new RateLimitedLog(LOG);

    public static final int DEVICE_TYPE = 2;
    public static final int QUEUE_SIZE = 256;
    public static final int SECTOR_SIZE = 512;
    public static final int ID_BYTES = 20;

    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;

    public static final byte S_OK = 0;
    public static final byte S_IOERR = 1;
    public static final byte S_UNSUPP = 2;

    /** Bytes of configuration: capacity, size_max, seg_max, geometry, blk_size. */
    private static final int CONFIG_SIZE = 24;
    private static final int HEADER_SIZE = 16;

    private final FileChannel file;
    private final boolean readOnly;
    private final byte[] id;
    private final long capacitySectors;
    private final ByteBuffer config = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final int queueSize;
    private boolean malformedLogged;
    /** The driver negotiated FLUSH: writes may wait in the page cache until it asks. */
    private boolean writeBack;
    private final LongAdder readBytes = new LongAdder();
    private final LongAdder writeBytes = new LongAdder();
    private final LongAdder readOps = new LongAdder();
    private final LongAdder writeOps = new LongAdder();

    /**
     * A disk on {@code file} (opened for reading, and writing unless {@code readOnly}); the caller owns
     * and closes it. {@code serial} is what GET_ID answers (at most 20 bytes are used).
     */
    public VirtioBlock(FileChannel file, boolean readOnly, String serial) throws IOException {
        this(file, readOnly, serial, QUEUE_SIZE);
    }

    /** As above, with a request queue of {@code queueSize} entries (a power of two, 2 to 32768). */
    public VirtioBlock(FileChannel file, boolean readOnly, String serial, int queueSize) throws IOException {
        if (queueSize < 2 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            throw new IllegalArgumentException("virtio-blk: a queue size is a power of two from 2 to 32768, not " + queueSize);
        }
        this.queueSize = queueSize;
        this.file = file;
        this.readOnly = readOnly;
        this.id = serial.getBytes(StandardCharsets.US_ASCII);
        this.capacitySectors = file.size() / SECTOR_SIZE;
        config.putLong(0, capacitySectors);
        config.putInt(12, queueSize - 2); // seg_max: the header and status take two descriptors
        config.putInt(20, SECTOR_SIZE);
    }

    public long capacitySectors() {
        return capacitySectors;
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        long f = 1L << F_SEG_MAX | 1L << F_BLK_SIZE | 1L << F_FLUSH;
        return readOnly ? f | 1L << F_RO : f;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int index) {
        return queueSize;
    }

    @Override
    public int pciClass() {
        return 0x018000; // mass storage, other
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return VirtioDevice.readLittleEndian(config, offset, size);
    }

    @Override
    public void activate(long features) {
        writeBack = (features & 1L << F_FLUSH) != 0;
    }

    @Override
    public void reset() {
        writeBack = false;
    }

    @Override
    public void process(int index, VirtQueue queue) throws VirtQueueException {
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            queue.addUsed(chain.head(), serve(chain));
        }
    }

    /** Serves one request; returns the bytes written into its writable buffers. */
    private int serve(DescriptorChain chain) {
        List<ByteBuffer> readable = chain.readable();
        List<ByteBuffer> writable = chain.writable();
        if (chain.readableBytes() < HEADER_SIZE || writable.isEmpty() || writable.getLast().remaining() == 0) {
            if (!malformedLogged) {
                malformedLogged = true;
                LOG.log(Level.WARNING, "virtio-blk: request at head {0} has no header or no status byte; returned unanswered",
                        chain.head());
            }
            return 0;
        }
        header.clear();
        List<ByteBuffer> out = new ArrayList<>(readable.size());
        for (ByteBuffer b : readable) {
            ByteBuffer rest = b.duplicate();
            while (header.hasRemaining() && rest.hasRemaining()) {
                header.put(rest.get());
            }
            if (rest.hasRemaining()) {
                out.add(rest);
            }
        }
        int type = header.getInt(0);
        long sector = header.getLong(8);
        ByteBuffer last = writable.getLast();
        int statusAt = last.limit() - 1;
        List<ByteBuffer> in = new ArrayList<>(writable);
        in.set(in.size() - 1, last.duplicate().limit(statusAt));

        long written = 0;
        byte status;
        try {
            switch (type) {
                case T_IN -> {
                    long length = total(in);
                    status = inRange(sector, length) ? S_OK : S_IOERR;
                    if (status == S_OK) {
                        written = transfer(in, sector, true);
                        readBytes.add(written);
                        readOps.increment();
                    }
                }
                case T_OUT -> {
                    long length = total(out);
                    status = !readOnly && inRange(sector, length) ? S_OK : S_IOERR;
                    if (status == S_OK) {
                        writeBytes.add(transfer(out, sector, false));
                        writeOps.increment();
                        if (!writeBack) {
                            file.force(false);
                        }
                    }
                }
                case T_FLUSH -> {
                    file.force(false);
                    status = S_OK;
                }
                case T_GET_ID -> {
                    written = putId(in);
                    status = S_OK;
                }
                default -> status = S_UNSUPP;
            }
        } catch (IOException e) {
            guestLog.log(Level.WARNING, "io-error", "virtio-blk: I/O error at sector {0}: {1}", sector, e.getMessage());
            status = S_IOERR;
        }
        last.put(statusAt, status);
        return (int) Math.min(written + 1, Integer.MAX_VALUE);
    }

    private boolean inRange(long sector, long length) {
        return length % SECTOR_SIZE == 0 && sector >= 0 && sector <= capacitySectors
                && length / SECTOR_SIZE <= capacitySectors - sector;
    }

    /**
     * Moves a request's data between the image at {@code sector} and its guest buffers with one vectored
     * system call ({@code readv}/{@code writev} after a seek; more only when the kernel moves less), not one
     * per buffer: a 1 MiB request is typically 256 page-sized buffers. Only this device's worker uses the
     * channel, so its position is the request's.
     */
    private long transfer(List<ByteBuffer> buffers, long sector, boolean read) throws IOException {
        ByteBuffer[] views = new ByteBuffer[buffers.size()];
        long total = 0;
        for (int i = 0; i < views.length; i++) {
            views[i] = buffers.get(i).duplicate();
            total += views[i].remaining();
        }
        long position = sector * SECTOR_SIZE;
        long done = 0;
        int first = 0;
        while (done < total) {
            file.position(position + done);
            long n = read ? file.read(views, first, views.length - first) : file.write(views, first, views.length - first);
            if (n < 0) {
                throw new IOException("the image ended at byte " + (position + done));
            }
            done += n;
            while (first < views.length && !views[first].hasRemaining()) {
                first++;
            }
        }
        return done;
    }

    private long putId(List<ByteBuffer> buffers) {
        long written = 0;
        int i = 0;
        for (ByteBuffer b : buffers) {
            ByteBuffer view = b.duplicate();
            while (view.hasRemaining() && i < ID_BYTES) {
                view.put(i < id.length ? id[i] : 0);
                i++;
                written++;
            }
        }
        return written;
    }

    private static long total(List<ByteBuffer> buffers) {
        long n = 0;
        for (ByteBuffer b : buffers) {
            n += b.remaining();
        }
        return n;
    }

    /** Bytes and requests read and written so far (Cloud Hypervisor's names). */
    @Override
    public Map<String, Long> counters() {
        return Map.of("read_bytes", readBytes.sum(), "write_bytes", writeBytes.sum(),
                "read_ops", readOps.sum(), "write_ops", writeOps.sum());
    }

    @Override
    public String name() {
        return "virtio-blk";
    }
}
