package dev.nimbus.devices.bus;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An address-range map of one {@link AddressSpace}: which {@link BusDevice} answers which addresses.
 *
 * <p>Lookups run on every port-I/O or MMIO exit, so they are a binary search over sorted arrays that are
 * replaced as a whole when a device is inserted (copy on write, published through a volatile field): an
 * access takes no lock and allocates nothing. Inserting is rare (machine assembly, PCI BAR moves) and
 * rejects a range that overlaps one already present with a {@link BusConflictException}.
 *
 * <p>An access that no device answers wholly (nothing there, or it straddles the end of a device's range)
 * never fails: a read gives all ones, a write is dropped, and both are counted. The first accesses to each
 * of a few distinct addresses are logged, so a guest that polls a missing device does not flood the log.
 */
public final class Bus {
    private static final System.Logger LOG = System.getLogger(Bus.class.getName());
    /** How many distinct unmapped addresses are logged before the bus goes quiet. */
    private static final int LOGGED_ADDRESSES = 16;

    /** The ranges, sorted by base; one immutable snapshot per insertion. */
    private record Ranges(long[] bases, long[] ends, BusDevice[] devices) {}

    private final AddressSpace space;
    private volatile Ranges ranges = new Ranges(new long[0], new long[0], new BusDevice[0]);
    private final AtomicLong unmappedReads = new AtomicLong();
    private final AtomicLong unmappedWrites = new AtomicLong();
    private final long[] loggedAddresses = new long[LOGGED_ADDRESSES];
    private int loggedCount;

    public Bus(AddressSpace space) {
        this.space = space;
    }

    public AddressSpace space() {
        return space;
    }

    /** Makes {@code device} answer {@code [base, base+length)}. */
    public void insert(long base, long length, BusDevice device) {
        insert(new BusMapping(space, base, length, device));
    }

    /**
     * Adds {@code mapping}, which must be of this bus's space.
     *
     * @throws BusConflictException when the range overlaps one already on the bus
     */
    public synchronized void insert(BusMapping mapping) {
        if (mapping.space() != space) {
            throw new IllegalArgumentException(mapping.device().name() + ": a " + mapping.space() + " range cannot go on the " + space + " bus");
        }
        Ranges r = ranges;
        int n = r.bases.length;
        int at = insertionPoint(r.bases, mapping.base());
        // Only the neighbours can overlap: the ranges on the bus are disjoint and sorted.
        if (at > 0 && r.ends[at - 1] > mapping.base()) {
            throw conflict(mapping, r.bases[at - 1], r.ends[at - 1], r.devices[at - 1]);
        }
        if (at < n && r.bases[at] < mapping.end()) {
            throw conflict(mapping, r.bases[at], r.ends[at], r.devices[at]);
        }
        long[] bases = new long[n + 1];
        long[] ends = new long[n + 1];
        BusDevice[] devices = new BusDevice[n + 1];
        System.arraycopy(r.bases, 0, bases, 0, at);
        System.arraycopy(r.ends, 0, ends, 0, at);
        System.arraycopy(r.devices, 0, devices, 0, at);
        bases[at] = mapping.base();
        ends[at] = mapping.end();
        devices[at] = mapping.device();
        System.arraycopy(r.bases, at, bases, at + 1, n - at);
        System.arraycopy(r.ends, at, ends, at + 1, n - at);
        System.arraycopy(r.devices, at, devices, at + 1, n - at);
        ranges = new Ranges(bases, ends, devices);
    }

    /** Removes the range that starts at {@code base}; returns whether there was one. */
    public synchronized boolean remove(long base) {
        Ranges r = ranges;
        int i = Arrays.binarySearch(r.bases, base);
        if (i < 0) {
            return false;
        }
        int n = r.bases.length;
        long[] bases = new long[n - 1];
        long[] ends = new long[n - 1];
        BusDevice[] devices = new BusDevice[n - 1];
        System.arraycopy(r.bases, 0, bases, 0, i);
        System.arraycopy(r.ends, 0, ends, 0, i);
        System.arraycopy(r.devices, 0, devices, 0, i);
        System.arraycopy(r.bases, i + 1, bases, i, n - i - 1);
        System.arraycopy(r.ends, i + 1, ends, i, n - i - 1);
        System.arraycopy(r.devices, i + 1, devices, i, n - i - 1);
        ranges = new Ranges(bases, ends, devices);
        return true;
    }

    /** The ranges on the bus, lowest first. */
    public List<BusMapping> mappings() {
        Ranges r = ranges;
        List<BusMapping> out = new ArrayList<>(r.bases.length);
        for (int i = 0; i < r.bases.length; i++) {
            out.add(new BusMapping(space, r.bases[i], r.ends[i] - r.bases[i], r.devices[i]));
        }
        return out;
    }

    /** The device whose range holds {@code address}, or null. */
    public BusDevice deviceAt(long address) {
        Ranges r = ranges;
        int i = indexOf(r, address);
        return i < 0 ? null : r.devices[i];
    }

    /** Reads {@code size} bytes at {@code address}; all ones where no device answers. */
    public long read(long address, int size) {
        Ranges r = ranges;
        int i = indexOf(r, address);
        if (i < 0 || address + size > r.ends[i]) {
            unmappedReads.incrementAndGet();
            noteUnmapped(address, size, "read");
            return allOnes(size);
        }
        return r.devices[i].read(address - r.bases[i], size) & allOnes(size);
    }

    /** Writes the low {@code size} bytes of {@code value} at {@code address}; dropped where no device answers. */
    public void write(long address, int size, long value) {
        Ranges r = ranges;
        int i = indexOf(r, address);
        if (i < 0 || address + size > r.ends[i]) {
            unmappedWrites.incrementAndGet();
            noteUnmapped(address, size, "write");
            return;
        }
        r.devices[i].write(address - r.bases[i], size, value & allOnes(size));
    }

    /** Reads that no device answered, since the bus was made. */
    public long unmappedReads() {
        return unmappedReads.get();
    }

    /** Writes that no device answered, since the bus was made. */
    public long unmappedWrites() {
        return unmappedWrites.get();
    }

    /** A value of {@code size} bytes with every bit set (8 bytes and more: -1). */
    public static long allOnes(int size) {
        return size >= 8 ? -1L : (1L << (size * 8)) - 1;
    }

    private static int indexOf(Ranges r, long address) {
        long[] bases = r.bases;
        int lo = 0;
        int hi = bases.length - 1;
        // The last range whose base is <= address, if its end is past address.
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (bases[mid] <= address) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return hi >= 0 && address < r.ends[hi] ? hi : -1;
    }

    private static int insertionPoint(long[] bases, long base) {
        int i = Arrays.binarySearch(bases, base);
        return i >= 0 ? i : -i - 1;
    }

    private BusConflictException conflict(BusMapping added, long base, long end, BusDevice present) {
        return new BusConflictException(added.device().name() + " at " + space.describe(added.base(), added.length())
                + " overlaps " + present.name() + " at " + space.describe(base, end - base));
    }

    private void noteUnmapped(long address, int size, String access) {
        synchronized (loggedAddresses) {
            if (loggedCount > LOGGED_ADDRESSES) {
                return;
            }
            for (int i = 0; i < loggedCount; i++) {
                if (loggedAddresses[i] == address) {
                    return;
                }
            }
            if (loggedCount == LOGGED_ADDRESSES) {
                loggedCount++;
                LOG.log(Level.DEBUG, "{0} bus: more unmapped addresses are accessed; no longer logging them", space);
                return;
            }
            loggedAddresses[loggedCount++] = address;
        }
        LOG.log(Level.DEBUG, "{0} bus: {1}-byte {2} at unmapped {3} (reads give all ones, writes are dropped)",
                space, size, access, space.describe(address));
    }
}
