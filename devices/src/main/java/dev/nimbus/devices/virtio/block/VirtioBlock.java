package dev.nimbus.devices.virtio.block;

import dev.nimbus.devices.log.RateLimitedLog;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.devices.virtio.Completions;
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
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The virtio block device (virtio 1.2, 5.2) on a raw image: {@code numQueues} request queues (VIRTIO_BLK_F_MQ
 * when more than one); each request is a 16-byte header (type le32, reserved le32, sector le64), data
 * buffers, and a status byte the device writes last. Reads and writes move between the image and the guest's
 * own buffers with no copy ({@link BlockBackend}: {@code preadv}/{@code pwritev} at the request's offset);
 * FLUSH is {@code fdatasync}; GET_ID returns the serial. Writes are write-back (in the host's page cache
 * until a FLUSH, unless the image is open with {@code O_DIRECT}) when the driver negotiated
 * VIRTIO_BLK_F_FLUSH, and write-through (each one synced before it completes) when it did not, as the spec
 * requires of a device whose driver has no way to ask for a flush (virtio 1.2, 5.2.6.2).
 *
 * <p>Requests in flight: in a machine, {@link #process} only takes the chains off the queue and hands each
 * to the device's I/O threads ({@link #ioThreads()}, made by its worker), so many requests are under way at
 * once and a slow one holds up no other; no lock is held across file I/O. Each finished request goes to its
 * queue's completed list; whichever I/O thread finds the list not being given back gives back all of it
 * under the transport's lock ({@link Completions}): one used-index update and one interrupt decision per
 * batch (EVENT_IDX honoured), in the order requests finish. A FLUSH waits for every write taken before it
 * (on any queue) to have reached the image, then syncs it. Without I/O threads (a device not in a running
 * machine, tests) each request is served in {@link #process}, as before.
 *
 * <p>Reset and teardown: each request carries the generation it was taken in; {@link #reset()} (and
 * {@link #stopIo}) start a new one, drop requests not started, and wait (at most
 * {@value #DRAIN_DEADLINE_MILLIS} ms) for those under way, so no request writes into guest memory after
 * the reset returns, and none of an old generation reaches a used ring.
 *
 * <p>A request that is out of range, not whole sectors, or a write to a read-only disk completes with
 * VIRTIO_BLK_S_IOERR, as does one the host fails; an unknown type with VIRTIO_BLK_S_UNSUPP. A request with
 * no header or no room for the status byte cannot be answered: it is returned unused and logged once.
 */
public final class VirtioBlock implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioBlock.class.getName());
    /** A failing image fails every request the guest makes: one line per disk per interval. */
    private final RateLimitedLog guestLog = new RateLimitedLog(LOG);

    public static final int DEVICE_TYPE = 2;
    public static final int QUEUE_SIZE = 256;
    public static final int SECTOR_SIZE = 512;
    public static final int ID_BYTES = 20;
    /** The most request queues (Cloud Hypervisor's {@code num_queues} limit here). */
    public static final int MAX_QUEUES = 64;
    /** I/O threads per request queue, and at most in all. */
    static final int IO_THREADS_PER_QUEUE = 4;
    static final int MAX_IO_THREADS = 16;
    /** How long a reset or teardown waits for requests under way. */
    public static final long DRAIN_DEADLINE_MILLIS = 5_000;

    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_MQ = 12;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;

    public static final byte S_OK = 0;
    public static final byte S_IOERR = 1;
    public static final byte S_UNSUPP = 2;

    /** Bytes of configuration: capacity, size_max, seg_max, geometry, blk_size, topology, writeback, num_queues. */
    private static final int CONFIG_SIZE = 36;
    /** Offset of {@code num_queues} (le16) in the configuration (5.2.4). */
    public static final int CONFIG_NUM_QUEUES = 34;
    private static final int HEADER_SIZE = 16;

    private final BlockBackend backend;
    private final boolean readOnly;
    private final byte[] id;
    private final long capacitySectors;
    private final ByteBuffer config = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final int queueSize;
    private final int numQueues;
    private boolean malformedLogged;
    /** The driver negotiated FLUSH: writes may wait in the page cache until it asks. */
    private volatile boolean writeBack;
    private final LongAdder readBytes = new LongAdder();
    private final LongAdder writeBytes = new LongAdder();
    private final LongAdder readOps = new LongAdder();
    private final LongAdder writeOps = new LongAdder();

    // ---- requests in flight (with an executor and the transport's completions) ----
    private Completions completions;
    private Executor executor;
    /** The worker's thread, where a lone request may be served ({@link #serveKeptBackOn}); null: never. */
    private volatile Thread worker;
    /** The lone request {@link #process} kept back for {@link #serveKeptBack}; touched on the worker's thread only. */
    private Request keptBack;
    /** Bumped by reset and teardown (under the transport's lock, or with the worker stopped). */
    private volatile long generation;
    /** Order of taking, over all queues: a FLUSH waits for the writes taken before it. */
    private long nextSeq;
    /** Requests taken and not yet done with guest data (queued or under way). */
    private final AtomicInteger running = new AtomicInteger();
    /** Requests taken and not yet given back or dropped. */
    private final AtomicInteger outstanding = new AtomicInteger();
    private final Object idle = new Object();
    /** Sequence numbers of writes taken and not finished, guarded by itself. */
    private final TreeSet<Long> writesInFlight = new TreeSet<>();
    private final ConcurrentLinkedQueue<Request>[] done;
    private final AtomicBoolean[] draining;

    /** One request taken from a queue. */
    private final class Request implements Runnable {
        final int queue;
        final int head;
        final long generation;
        final long seq;
        final int type;
        final long sector;
        /** Data the device reads (OUT) or writes (IN, GET_ID); the status byte is not in it. */
        final List<ByteBuffer> data;
        final ByteBuffer statusBuffer;
        final int statusAt;
        int used;

        Request(int queue, int head, long generation, long seq, int type, long sector, List<ByteBuffer> data,
                ByteBuffer statusBuffer, int statusAt) {
            this.queue = queue;
            this.head = head;
            this.generation = generation;
            this.seq = seq;
            this.type = type;
            this.sector = sector;
            this.data = data;
            this.statusBuffer = statusBuffer;
            this.statusAt = statusAt;
        }

        @Override
        public void run() {
            runTaken(this);
        }
    }

    /**
     * A disk on {@code file} (opened for reading, and writing unless {@code readOnly}); the caller owns
     * and closes it. {@code serial} is what GET_ID answers (at most 20 bytes are used).
     */
    public VirtioBlock(FileChannel file, boolean readOnly, String serial) throws IOException {
        this(file, readOnly, serial, QUEUE_SIZE);
    }

    /** As above, with a request queue of {@code queueSize} entries (a power of two, 2 to 32768). */
    public VirtioBlock(FileChannel file, boolean readOnly, String serial, int queueSize) throws IOException {
        this(BlockBackend.of(file), readOnly, serial, queueSize, 1);
    }

    /**
     * A disk on {@code backend} with {@code numQueues} request queues (1 to {@value #MAX_QUEUES}) of
     * {@code queueSize} entries each (a power of two, 2 to 32768).
     */
    @SuppressWarnings("unchecked")
    public VirtioBlock(BlockBackend backend, boolean readOnly, String serial, int queueSize, int numQueues) throws IOException {
        if (queueSize < 2 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            throw new IllegalArgumentException("virtio-blk: a queue size is a power of two from 2 to 32768, not " + queueSize);
        }
        if (numQueues < 1 || numQueues > MAX_QUEUES) {
            throw new IllegalArgumentException("virtio-blk: 1 to " + MAX_QUEUES + " queues, not " + numQueues);
        }
        this.queueSize = queueSize;
        this.numQueues = numQueues;
        this.backend = backend;
        this.readOnly = readOnly;
        this.id = serial.getBytes(StandardCharsets.US_ASCII);
        this.capacitySectors = backend.size() / SECTOR_SIZE;
        config.putLong(0, capacitySectors);
        config.putInt(12, queueSize - 2); // seg_max: the header and status take two descriptors
        // blk_size: the logical block size; O_DIRECT's alignment, so the guest never asks for less
        config.putInt(20, Math.max(SECTOR_SIZE, backend.alignment()));
        config.putShort(CONFIG_NUM_QUEUES, (short) numQueues);
        this.done = new ConcurrentLinkedQueue[numQueues];
        this.draining = new AtomicBoolean[numQueues];
        for (int i = 0; i < numQueues; i++) {
            done[i] = new ConcurrentLinkedQueue<>();
            draining[i] = new AtomicBoolean();
        }
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
        if (numQueues > 1) {
            f |= 1L << F_MQ;
        }
        return readOnly ? f | 1L << F_RO : f;
    }

    @Override
    public int queueCount() {
        return numQueues;
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
    public int ioThreads() {
        return Math.min(MAX_IO_THREADS, IO_THREADS_PER_QUEUE * numQueues);
    }

    @Override
    public void connect(Completions completions) {
        this.completions = completions;
    }

    @Override
    public void useExecutor(Executor executor) {
        this.executor = executor;
    }

    @Override
    public void serveKeptBackOn(Thread worker) {
        this.worker = worker;
    }

    @Override
    public void serveKeptBack() {
        Request r = keptBack;
        if (r != null) {
            keptBack = null;
            runTaken(r);
        }
    }

    @Override
    public void reset() {
        writeBack = false;
        if (!endGeneration(DRAIN_DEADLINE_MILLIS)) {
            LOG.log(Level.ERROR, "virtio-blk: {0} requests still under way {1} ms after the device was reset; they may still"
                    + " write into guest memory", running.get(), DRAIN_DEADLINE_MILLIS);
        }
        // what finished and was not given back belongs to the old generation: dropped
        for (ConcurrentLinkedQueue<Request> d : done) {
            while (d.poll() != null) {
                outstanding.decrementAndGet();
            }
        }
        settle();
    }

    @Override
    public void stopIo(long timeoutMillis) {
        if (!endGeneration(timeoutMillis)) {
            LOG.log(Level.ERROR, "virtio-blk: {0} requests still under way {1} ms after the machine stopped", running.get(), timeoutMillis);
        }
    }

    /** Starts a new generation (requests of the old one are dropped) and waits for those under way. */
    private boolean endGeneration(long timeoutMillis) {
        generation++;
        synchronized (writesInFlight) {
            writesInFlight.notifyAll(); // a FLUSH waiting for writes of the old generation stops waiting
        }
        try {
            return await(running, timeoutMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return running.get() == 0;
        }
    }

    @Override
    public boolean quiesce(long timeoutMillis) throws InterruptedException {
        return await(outstanding, timeoutMillis);
    }

    private boolean await(AtomicInteger counter, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (idle) {
            while (counter.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(idle, left);
            }
        }
        return true;
    }

    private void settle() {
        synchronized (idle) {
            idle.notifyAll();
        }
    }

    @Override
    public String stateId() {
        return "virtio-blk";
    }

    /**
     * Version 1: the capacity in sectors (u64), read-only (u8) and the queue count (u16): what the driver read
     * from the configuration and will not read again, checked on restore against the disk given. Nothing is in
     * flight: the worker's pause waited until every request was given back ({@link #quiesce}); write-back
     * follows from the negotiated features at activation.
     *
     * @throws IllegalStateException when requests are still in flight (the machine is not paused)
     */
    @Override
    public DeviceState saveState() {
        if (outstanding.get() != 0 || keptBack != null) {
            throw new IllegalStateException("virtio-blk: " + outstanding.get() + " requests are in flight; the state is saved"
                    + " only while the machine is paused");
        }
        return new StateWriter().u64(capacitySectors).bool(readOnly).u16(numQueues).done(stateId(), 1);
    }

    /** Refused when the disk is not the one saved: another size, read-only-ness or queue count. */
    @Override
    public void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, stateId(), 1);
        long capacity = r.u64("capacity");
        r.check(capacity == capacitySectors, "capacity", "is " + capacity + " sectors in the state, the disk has " + capacitySectors
                + " (the image changed size)");
        r.check(r.bool("read-only") == readOnly, "read-only", "differs from the disk's (" + readOnly + ")");
        r.in("queue count", 2, numQueues, numQueues);
        r.end();
    }

    /** Requests taken from the queues and not yet given back (for tests and diagnostics). */
    public int inFlight() {
        return outstanding.get();
    }

    @Override
    public void process(int index, VirtQueue queue) throws VirtQueueException {
        boolean async = executor != null && completions != null;
        // on the worker's thread with nothing under way, the first request is held until the next one shows:
        // a lone request is kept back and served on this thread (serveKeptBack), the others go to the I/O threads
        boolean mayKeepBack = async && worker == Thread.currentThread() && keptBack == null && running.get() == 0;
        Request first = null;
        try {
            DescriptorChain chain;
            while ((chain = queue.pop()) != null) {
                Request r = take(index, chain);
                if (r == null) {
                    queue.addUsed(chain.head(), 0);
                } else if (!async) {
                    serve(r);
                    queue.addUsed(r.head, r.used);
                } else if (mayKeepBack && first == null) {
                    first = r;
                    admit(r);
                } else {
                    if (first != null) {
                        execute(first); // not alone after all
                        first = null;
                        mayKeepBack = false;
                    }
                    admit(r);
                    execute(r);
                }
            }
        } finally {
            // also when the ring turned out broken part-way: a request counted as under way is always served
            keptBack = first;
        }
    }

    /** Counts a request as under way (and a write as in flight for later FLUSHes) before it is served anywhere. */
    private void admit(Request r) {
        if (r.type == T_OUT) {
            synchronized (writesInFlight) {
                writesInFlight.add(r.seq);
            }
        }
        running.incrementAndGet();
        outstanding.incrementAndGet();
    }

    private void execute(Request r) {
        try {
            executor.execute(r);
        } catch (RejectedExecutionException e) {
            // the I/O threads are gone: the machine is closing, nothing will read the answer
            finishDropped(r);
        }
    }

    /** On an I/O thread: serves a request unless a reset came since it was taken, then gives it back. */
    private void runTaken(Request r) {
        if (r.generation != generation) {
            finishDropped(r);
            return;
        }
        try {
            serve(r);
        } catch (RuntimeException | Error e) {
            // a bug or a broken host resource: the request fails, the device and the VMM go on
            guestLog.log(Level.ERROR, "request-failed", "virtio-blk: a request failed", e);
        } finally {
            writeDone(r);
            running.decrementAndGet();
            settle();
        }
        done[r.queue].add(r);
        giveBack(r.queue);
    }

    private void finishDropped(Request r) {
        writeDone(r);
        running.decrementAndGet();
        outstanding.decrementAndGet();
        settle();
    }

    private void writeDone(Request r) {
        if (r.type == T_OUT) {
            synchronized (writesInFlight) {
                writesInFlight.remove(r.seq);
                writesInFlight.notifyAll();
            }
        }
    }

    /**
     * Gives back what queue {@code index} has finished, unless another thread is doing it: that one takes
     * what this one added too (it looks again after it lets go), so a burst of completions is one batch.
     */
    private void giveBack(int index) {
        ConcurrentLinkedQueue<Request> finished = done[index];
        AtomicBoolean flag = draining[index];
        while (!finished.isEmpty() && flag.compareAndSet(false, true)) {
            int[] taken = new int[1];
            try {
                completions.complete(index, (queue, live) -> {
                    int staged = 0;
                    try {
                        Request r;
                        while ((r = finished.poll()) != null) {
                            taken[0]++;
                            if (live && r.generation == generation) {
                                queue.stageUsed(r.head, r.used);
                                staged++;
                            }
                        }
                    } finally {
                        if (staged > 0) {
                            queue.publishUsed();
                        }
                    }
                });
            } finally {
                flag.set(false);
                outstanding.addAndGet(-taken[0]);
                settle();
            }
        }
    }

    /** The request in {@code chain}, its header read; null when it has no header or no status byte. */
    private Request take(int queue, DescriptorChain chain) {
        List<ByteBuffer> readable = chain.readable();
        List<ByteBuffer> writable = chain.writable();
        if (chain.readableBytes() < HEADER_SIZE || writable.isEmpty() || writable.getLast().remaining() == 0) {
            if (!malformedLogged) {
                malformedLogged = true;
                LOG.log(Level.WARNING, "virtio-blk: request at head {0} has no header or no status byte; returned unanswered",
                        chain.head());
            }
            return null;
        }
        ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
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
        return new Request(queue, chain.head(), generation, nextSeq++, type, sector, type == T_OUT ? out : in, last, statusAt);
    }

    /** Serves one request: moves its data, writes its status byte, sets the bytes written into its buffers. */
    private void serve(Request r) {
        long written = 0;
        byte status = S_IOERR;
        try {
            switch (r.type) {
                case T_IN -> {
                    long length = total(r.data);
                    if (inRange(r.sector, length)) {
                        written = backend.read(r.data, r.sector * SECTOR_SIZE);
                        if (written < length) {
                            throw new IOException("the image ended at byte " + (r.sector * SECTOR_SIZE + written));
                        }
                        readBytes.add(written);
                        readOps.increment();
                        status = S_OK;
                    }
                }
                case T_OUT -> {
                    long length = total(r.data);
                    if (!readOnly && inRange(r.sector, length)) {
                        writeBytes.add(backend.write(r.data, r.sector * SECTOR_SIZE));
                        writeOps.increment();
                        if (!writeBack) {
                            backend.flush();
                        }
                        status = S_OK;
                    }
                }
                case T_FLUSH -> {
                    awaitEarlierWrites(r);
                    backend.flush();
                    status = S_OK;
                }
                case T_GET_ID -> {
                    written = putId(r.data);
                    status = S_OK;
                }
                default -> status = S_UNSUPP;
            }
        } catch (IOException e) {
            guestLog.log(Level.WARNING, "io-error", "virtio-blk: I/O error at sector {0}: {1}", r.sector, e.getMessage());
            status = S_IOERR;
            written = 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            status = S_IOERR;
        } finally {
            r.statusBuffer.put(r.statusAt, status);
            r.used = (int) Math.min(written + 1, Integer.MAX_VALUE);
        }
    }

    /** A FLUSH covers the writes taken before it (5.2.6): it waits until those have reached the image. */
    private void awaitEarlierWrites(Request flush) throws InterruptedException {
        synchronized (writesInFlight) {
            while (!writesInFlight.isEmpty() && writesInFlight.first() < flush.seq && flush.generation == generation) {
                writesInFlight.wait(100);
            }
        }
    }

    private boolean inRange(long sector, long length) {
        return length % SECTOR_SIZE == 0 && sector >= 0 && sector <= capacitySectors
                && length / SECTOR_SIZE <= capacitySectors - sector;
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
