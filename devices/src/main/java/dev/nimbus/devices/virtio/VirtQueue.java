package dev.nimbus.devices.virtio;

import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A split virtqueue (virtio 1.2, 2.7), read straight from guest memory: the descriptor table, the driver
 * ("available") ring and the device ("used") ring at the addresses the driver configured.
 *
 * <p>Everything the guest controls is checked where it is read, and a violation is a
 * {@link VirtQueueException}: a ring that does not lie in RAM, an available index that runs more than the
 * queue size ahead, a head or next index past the table, a chain longer than the queue size (which is
 * also how a loop shows), an indirect table that is nested, misaligned in length or combined with NEXT, a
 * buffer outside RAM or longer than 2 GiB, a readable buffer after a writable one, and a head the driver
 * offers again while the device still holds it.
 *
 * <p>With VIRTIO_F_RING_EVENT_IDX both directions of notification are suppressed by index (2.7.7, 2.7.10):
 * the device publishes {@code avail_event} when it has drained the ring, and {@link #needsInterrupt()}
 * honours the driver's {@code used_event}. Without it, the driver's NO_INTERRUPT flag is honoured.
 *
 * <p>Configuration (size, addresses, ready) comes from the transport on a vCPU thread, processing from a
 * device thread; the transport's lock serializes the two. The queue itself is not thread-safe.
 */
public final class VirtQueue {
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    public static final int DESCRIPTOR_SIZE = 16;

    private final GuestMemory memory;
    private final int maxSize;
    private int size;
    private long descTable;
    private long availRing;
    private long usedRing;
    private boolean ready;
    private int msixVector = 0xffff;

    private boolean eventIdx;
    private boolean indirect;
    private boolean active;
    private short nextAvail;
    private short nextUsed;
    /** The used index at the last interrupt decision: event-idx compares against it. */
    private short signalledUsed;
    private final BitSet inFlight = new BitSet();
    private final BitSet visited = new BitSet();

    /** A queue of at most {@code maxSize} entries (a power of two, at most 32768). */
    public VirtQueue(GuestMemory memory, int maxSize) {
        if (maxSize < 1 || maxSize > 32768 || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("a split virtqueue size is a power of two up to 32768: " + maxSize);
        }
        this.memory = memory;
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    // ---- configuration, through the transport's registers ----

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    /** The driver's queue size; it must be a power of two no larger than the maximum (else kept as is). */
    public void setSize(int size) {
        if (size >= 1 && size <= maxSize && Integer.bitCount(size) == 1) {
            this.size = size;
        }
    }

    public long descTable() {
        return descTable;
    }

    public void setDescTable(long gpa) {
        this.descTable = gpa;
    }

    public long availRing() {
        return availRing;
    }

    public void setAvailRing(long gpa) {
        this.availRing = gpa;
    }

    public long usedRing() {
        return usedRing;
    }

    public void setUsedRing(long gpa) {
        this.usedRing = gpa;
    }

    public boolean ready() {
        return ready;
    }

    public void setReady(boolean ready) {
        this.ready = ready;
    }

    public int msixVector() {
        return msixVector;
    }

    public void setMsixVector(int vector) {
        this.msixVector = vector;
    }

    /** Back to the state after device reset: unconfigured, nothing in flight. */
    public void reset() {
        size = maxSize;
        descTable = availRing = usedRing = 0;
        ready = false;
        msixVector = 0xffff;
        active = false;
        nextAvail = nextUsed = signalledUsed = 0;
        inFlight.clear();
    }

    /**
     * Starts processing with the negotiated features (DRIVER_OK). Checks that the three areas lie in RAM
     * and are aligned (2.7: 16, 2 and 4 bytes).
     */
    public void activate(boolean eventIdx, boolean indirect) throws VirtQueueException {
        checkRings(eventIdx, indirect);
        try {
            nextUsed = memory.readShort(usedRing + 2);
        } catch (GuestMemoryException e) {
            throw new VirtQueueException(e.getMessage());
        }
        signalledUsed = nextUsed;
        active = true;
    }

    private void checkRings(boolean eventIdx, boolean indirect) throws VirtQueueException {
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        if ((descTable & 15) != 0 || (availRing & 1) != 0 || (usedRing & 3) != 0) {
            throw new VirtQueueException(String.format("misaligned ring: descriptors 0x%x, driver area 0x%x, device area 0x%x",
                    descTable, availRing, usedRing));
        }
        int extra = eventIdx ? 2 : 0;
        requireRam(descTable, (long) DESCRIPTOR_SIZE * size, "descriptor table");
        requireRam(availRing, 4 + 2L * size + extra, "driver area");
        requireRam(usedRing, 4 + 8L * size + extra, "device area");
    }

    // ---- saved state ----

    /**
     * A queue's saved state: its configuration and, once active, the device's side of the rings: the next
     * available entry to take ({@code last_avail_idx}), the used index, the used index at the last interrupt
     * decision (event-idx compares against it), and the heads the device holds (taken, not given back).
     */
    public record Saved(int size, boolean ready, int msixVector, long descTable, long availRing, long usedRing, boolean active,
                        int nextAvail, int nextUsed, int signalledUsed, int[] inFlight) {}

    /**
     * Writes the queue's state (for its transport's): size, ready, vector (u16, u8, u16), the three ring
     * addresses (u64), active (u8), the next available index, the used index and the used index last
     * signalled (u16 each), and the heads held (a u16 count, then each head as u16).
     */
    public void save(StateWriter w) {
        w.u16(size).bool(ready).u16(msixVector).u64(descTable).u64(availRing).u64(usedRing).bool(active)
                .u16(nextAvail).u16(nextUsed).u16(signalledUsed).u16(inFlight.cardinality());
        inFlight.stream().forEach(w::u16);
    }

    /** Reads what {@link #save} wrote for a queue of at most {@code maxSize} entries, refusing what such a queue cannot be. */
    public static Saved read(StateReader r, int index, int maxSize) {
        String q = "queue " + index;
        int size = r.in(q + " size", 2, 1, maxSize);
        r.check(Integer.bitCount(size) == 1, q + " size", size + " is not a power of two");
        boolean ready = r.bool(q + " ready");
        int vector = r.u16(q + " vector");
        long desc = r.u64(q + " descriptor table");
        long avail = r.u64(q + " driver area");
        long used = r.u64(q + " device area");
        boolean active = r.bool(q + " active");
        r.check(!active || ready, q, "is active without being ready");
        int nextAvail = r.u16(q + " next available index");
        int nextUsed = r.u16(q + " used index");
        int signalled = r.u16(q + " used index signalled");
        int held = r.in(q + " heads held", 2, 0, active ? size : 0);
        int[] heads = new int[held];
        BitSet seen = new BitSet();
        for (int i = 0; i < held; i++) {
            heads[i] = r.in(q + " head held", 2, 0, size - 1);
            r.check(!seen.get(heads[i]), q + " head held", heads[i] + " is held twice");
            seen.set(heads[i]);
        }
        r.check(((nextAvail - nextUsed) & 0xffff) >= held, q, "holds " + held + " heads, more than it took and did not give back ("
                + nextAvail + " taken, " + nextUsed + " used)");
        return new Saved(size, ready, vector, desc, avail, used, active, nextAvail, nextUsed, signalled, heads);
    }

    /**
     * Takes back a saved configuration and indices, inactive: the transport then starts it with
     * {@link #resume} where it was active.
     */
    public void restore(Saved s) {
        size = s.size();
        ready = s.ready();
        msixVector = s.msixVector();
        descTable = s.descTable();
        availRing = s.availRing();
        usedRing = s.usedRing();
        active = false;
        nextAvail = (short) s.nextAvail();
        nextUsed = (short) s.nextUsed();
        signalledUsed = (short) s.signalledUsed();
        inFlight.clear();
        for (int head : s.inFlight()) {
            inFlight.set(head);
        }
    }

    /**
     * Starts processing a restored queue where it stopped, with the negotiated features: the checks of
     * {@link #activate}, but the indices are the saved ones (the used index is not read from the ring).
     */
    public void resume(boolean eventIdx, boolean indirect) throws VirtQueueException {
        checkRings(eventIdx, indirect);
        active = true;
    }

    /** The chain at {@code head}, which the device holds (a restored device taking back what it held), read again. */
    public DescriptorChain reclaim(int head) throws VirtQueueException {
        if (!active || head < 0 || head >= size || !inFlight.get(head)) {
            throw new VirtQueueException("head " + head + " is not held by the device");
        }
        try {
            return walk(head);
        } catch (GuestMemoryException e) {
            throw new VirtQueueException(e.getMessage());
        }
    }

    public boolean active() {
        return active;
    }

    private void requireRam(long gpa, long length, String what) throws VirtQueueException {
        if (!memory.contains(gpa, length)) {
            throw new VirtQueueException(String.format("%s at 0x%x (0x%x bytes) is not in guest RAM", what, gpa, length));
        }
    }

    // ---- processing ----

    /** The next chain the driver made available, or null when there is none. */
    public DescriptorChain pop() throws VirtQueueException {
        if (!active) {
            return null;
        }
        try {
            short availIdx = availIdx();
            if (availIdx == nextAvail) {
                if (!eventIdx) {
                    return null;
                }
                // Ask for a notification at the next index, then look again: the driver may have added a
                // buffer after our read and before it could see avail_event (2.7.10).
                memory.writeShort(usedRing + 4 + 8L * size, nextAvail);
                VarHandle.fullFence();
                availIdx = availIdx();
                if (availIdx == nextAvail) {
                    return null;
                }
            }
            int pending = (availIdx - nextAvail) & 0xffff;
            if (pending > size) {
                throw new VirtQueueException("driver's available index ran " + pending + " entries ahead of a queue of " + size);
            }
            VarHandle.acquireFence(); // ring entries are read after the index that published them
            int head = memory.readShort(availRing + 4 + 2L * ((nextAvail & 0xffff) % size)) & 0xffff;
            if (head >= size) {
                throw new VirtQueueException("available head " + head + " is past the end of a queue of " + size);
            }
            if (inFlight.get(head)) {
                throw new VirtQueueException("driver offered head " + head + " again while the device still holds it");
            }
            DescriptorChain chain = walk(head);
            nextAvail++;
            inFlight.set(head);
            return chain;
        } catch (GuestMemoryException e) {
            throw new VirtQueueException(e.getMessage());
        }
    }

    private short availIdx() throws GuestMemoryException {
        return memory.readShort(availRing + 2);
    }

    private DescriptorChain walk(int head) throws GuestMemoryException, VirtQueueException {
        List<ByteBuffer> readable = new ArrayList<>(2);
        List<ByteBuffer> writable = new ArrayList<>(2);
        visited.clear();
        int count = 0;
        long table = descTable;
        int tableSize = size;
        boolean inIndirect = false;
        int index = head;
        while (true) {
            if (index >= tableSize) {
                throw new VirtQueueException("descriptor index " + index + " is past a table of " + tableSize);
            }
            if (visited.get(index)) {
                throw new VirtQueueException("descriptor chain from head " + head + " loops back to " + index);
            }
            visited.set(index);
            if (++count > size) {
                throw new VirtQueueException("descriptor chain from head " + head + " is longer than the queue size " + size);
            }
            long at = table + (long) DESCRIPTOR_SIZE * index;
            long addr = memory.readLong(at);
            long len = memory.readInt(at + 8) & 0xffff_ffffL;
            int flags = memory.readShort(at + 12) & 0xffff;
            int next = memory.readShort(at + 14) & 0xffff;
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    throw new VirtQueueException("indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC");
                }
                if (inIndirect) {
                    throw new VirtQueueException("indirect descriptor inside an indirect table");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    throw new VirtQueueException("indirect descriptor with NEXT set");
                }
                if (len == 0 || len % DESCRIPTOR_SIZE != 0 || len / DESCRIPTOR_SIZE > size) {
                    throw new VirtQueueException("indirect table of " + len + " bytes (a multiple of 16, at most "
                            + size + " descriptors)");
                }
                requireRam(addr, len, "indirect table");
                inIndirect = true;
                table = addr;
                tableSize = (int) (len / DESCRIPTOR_SIZE);
                index = 0;
                count--; // the indirect descriptor itself carries no buffer
                visited.clear();
                continue;
            }
            if (len > Integer.MAX_VALUE) {
                throw new VirtQueueException(String.format("descriptor %d has an absurd length 0x%x", index, len));
            }
            if (!memory.contains(addr, len)) {
                throw new VirtQueueException(String.format("descriptor %d buffer 0x%x+0x%x is not in guest RAM", index, addr, len));
            }
            ByteBuffer buffer = memory.buffer(addr, (int) len);
            if ((flags & DESC_F_WRITE) != 0) {
                writable.add(buffer);
            } else if (!writable.isEmpty()) {
                throw new VirtQueueException("device-readable descriptor " + index + " after a device-writable one");
            } else {
                readable.add(buffer);
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return new DescriptorChain(head, readable, writable);
            }
            index = next;
        }
    }

    /**
     * Returns the chain at {@code head} to the driver, {@code written} bytes written into its writable
     * buffers (2.7.8). The used entry is visible before the index that publishes it.
     */
    public void addUsed(int head, int written) throws VirtQueueException {
        stageUsed(head, written);
        publishUsed();
    }

    /**
     * Writes the used entry for the chain at {@code head} without publishing it: a batch of these, then one
     * {@link #publishUsed()}, gives the driver all of them with one index update.
     */
    public void stageUsed(int head, int written) throws VirtQueueException {
        if (head < 0 || head >= size || !inFlight.get(head)) {
            throw new IllegalArgumentException("head " + head + " is not held by the device");
        }
        inFlight.clear(head);
        try {
            long entry = usedRing + 4 + 8L * ((nextUsed & 0xffff) % size);
            memory.writeInt(entry, head);
            memory.writeInt(entry + 4, written);
            nextUsed++;
        } catch (GuestMemoryException e) {
            throw new VirtQueueException(e.getMessage());
        }
    }

    /** Publishes the used entries staged so far: they are visible before the index (2.7.8). */
    public void publishUsed() throws VirtQueueException {
        VarHandle.releaseFence();
        try {
            memory.writeShort(usedRing + 2, nextUsed);
        } catch (GuestMemoryException e) {
            throw new VirtQueueException(e.getMessage());
        }
    }

    /**
     * Whether the driver wants an interrupt for the buffers used since the last call (2.7.7.2, 2.7.10):
     * with event-idx, once the used index passes the driver's {@code used_event}; without, unless it set
     * NO_INTERRUPT. Call after a batch of {@link #addUsed}.
     */
    public boolean needsInterrupt() throws VirtQueueException {
        if (!active) {
            return false;
        }
        VarHandle.fullFence(); // our used index is visible before we read the driver's wishes
        try {
            short old = signalledUsed;
            short now = nextUsed;
            if (old == now) {
                return false;
            }
            signalledUsed = now;
            if (eventIdx) {
                short usedEvent = memory.readShort(availRing + 4 + 2L * size);
                return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
            }
            return (memory.readShort(availRing) & AVAIL_F_NO_INTERRUPT) == 0;
        } catch (GuestMemoryException e) {
            throw new VirtQueueException(e.getMessage());
        }
    }

    /** Chains handed out by {@link #pop()} and not yet given back. */
    public int inFlight() {
        return inFlight.cardinality();
    }
}
