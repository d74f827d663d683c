package dev.nimbus.hypervisor.memory;

import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The guest's RAM: a set of non-overlapping {@link GuestRegion}s, each a host mapping. All accesses by
 * guest physical address (GPA) are bounds-checked here, once: an address that is not wholly inside one
 * region gives a {@link GuestMemoryException}, never a JVM crash. Values are little-endian, as on every
 * architecture Nimbus supports.
 *
 * <p>Devices get at payloads through {@link #buffer(long, int)}: a direct {@link ByteBuffer} over the
 * guest's own memory, so a {@code FileChannel} reads into or writes from guest RAM with no copy.
 *
 * <p>Lifetime: the mappings live until {@link #close()}, which the VM's owner calls after every vCPU
 * and device has stopped. Accessors are safe to call from any thread.
 */
public final class GuestMemory implements AutoCloseable {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestRegion[] regions;
    private final AutoCloseable owner;

    private GuestMemory(List<GuestRegion> regions, AutoCloseable owner) {
        List<GuestRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(GuestRegion::guestAddress));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).guestAddress() < sorted.get(i - 1).end()) {
                throw new IllegalArgumentException("guest regions overlap: " + sorted.get(i - 1) + " and " + sorted.get(i));
            }
        }
        this.regions = sorted.toArray(GuestRegion[]::new);
        this.owner = owner;
    }

    /**
     * Maps anonymous host memory for each range ({@code MAP_NORESERVE}: pages are committed when the guest
     * touches them), with transparent huge pages asked for: {@link MemoryBacking#DEFAULT}. The mappings are
     * released by {@link #close()}.
     */
    public static GuestMemory allocate(List<AddressRange> ranges) {
        return allocate(ranges, MemoryBacking.DEFAULT);
    }

    /**
     * Maps host memory for each range as {@code backing} says. The mappings are released by {@link #close()}.
     *
     * @throws MemoryBacking.Unavailable when the host cannot back it so (no huge pages reserved, no KSM),
     *                                   naming the option
     */
    public static GuestMemory allocate(List<AddressRange> ranges, MemoryBacking backing) {
        Arena arena = Arena.ofShared();
        List<GuestRegion> regions = new ArrayList<>();
        try {
            for (AddressRange r : ranges) {
                long size = r.size();
                long address = map(size, backing).address();
                MemorySegment host = MemorySegment.ofAddress(address).reinterpret(size, arena, s -> LibC.munmap(address, size));
                regions.add(new GuestRegion(r.base(), host));
                advise(address, size, backing);
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        return new GuestMemory(regions, arena);
    }

    private static MemorySegment map(long size, MemoryBacking backing) {
        int prot = LibC.PROT_READ | LibC.PROT_WRITE;
        int populate = backing.prefault() ? LibC.MAP_POPULATE : 0;
        String what = String.format("guest RAM 0x%x bytes", size);
        if (!backing.shared() && !backing.hugepages()) {
            try {
                return LibC.mmap(size, prot, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE | populate, -1, 0,
                        "mmap(" + what + ")");
            } catch (SyscallException e) {
                throw new MemoryBacking.Unavailable(backing.prefault() ? "prefault" : "size", e.getMessage(), e);
            }
        }
        int flags = LibC.MFD_CLOEXEC;
        if (backing.hugepages()) {
            flags |= LibC.MFD_HUGETLB;
            if (backing.hugepageSize() != 0) {
                flags |= Long.numberOfTrailingZeros(backing.hugepageSize()) << LibC.MFD_HUGE_SHIFT;
            }
        }
        String option = backing.hugepages() ? "hugepages" : "shared";
        int fd;
        try {
            fd = LibC.memfdCreate("nimbus-guest-ram", flags);
        } catch (SyscallException e) {
            throw new MemoryBacking.Unavailable(option, e.getMessage(), e);
        }
        try {
            LibC.ftruncate(fd, size, "ftruncate(" + what + ")");
            // a hugetlb mapping fails here (ENOMEM) when the host has too few huge pages reserved
            return LibC.mmap(size, prot, (backing.shared() ? LibC.MAP_SHARED : LibC.MAP_PRIVATE) | populate, fd, 0,
                    "mmap(" + what + (backing.hugepages() ? ", huge pages" : "") + ")");
        } catch (SyscallException e) {
            throw new MemoryBacking.Unavailable(option, e.getMessage(), e);
        } finally {
            LibC.close(fd); // the mapping keeps the file
        }
    }

    private static void advise(long address, long size, MemoryBacking backing) {
        if (!backing.shared() && !backing.hugepages()) {
            try {
                LibC.madvise(address, size, backing.thp() ? LibC.MADV_HUGEPAGE : LibC.MADV_NOHUGEPAGE, "madvise(thp)");
            } catch (SyscallException e) {
                // a kernel without transparent huge pages: the hint has nothing to act on, the RAM is fine
            }
        }
        if (backing.mergeable()) {
            try {
                LibC.madvise(address, size, LibC.MADV_MERGEABLE, "madvise(MADV_MERGEABLE)");
            } catch (SyscallException e) {
                throw new MemoryBacking.Unavailable("mergeable", e.getMessage() + " (a kernel without KSM)", e);
            }
        }
    }

    /**
     * Maps each range from {@code file}, one after the other from offset 0 as {@link #saveTo} wrote them,
     * privately ({@code MAP_PRIVATE}): a page is read from the file when the guest first touches it (all of
     * them at once with {@code prefault}), and the guest's writes stay in this process, never reaching the
     * file, so one snapshot restores any number of times.
     *
     * @throws IOException when the file cannot be opened or mapped, or its length is not the ranges' total
     */
    public static GuestMemory mapFile(List<AddressRange> ranges, Path file, boolean prefault) throws IOException {
        long total = 0;
        for (AddressRange r : ranges) {
            total += r.size();
        }
        long length = Files.size(file);
        if (length != total) {
            throw new IOException(file + ": " + length + " bytes, but the guest's RAM is " + total + " bytes (truncated or not this snapshot's)");
        }
        int fd;
        try {
            fd = LibC.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        Arena arena = Arena.ofShared();
        List<GuestRegion> regions = new ArrayList<>();
        try {
            long offset = 0;
            for (AddressRange r : ranges) {
                long size = r.size();
                long address = LibC.mmap(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | (prefault ? LibC.MAP_POPULATE : 0),
                        fd, offset, String.format("mmap(%s at 0x%x, 0x%x bytes)", file, offset, size)).address();
                MemorySegment host = MemorySegment.ofAddress(address).reinterpret(size, arena, s -> LibC.munmap(address, size));
                regions.add(new GuestRegion(r.base(), host));
                offset += size;
            }
        } catch (SyscallException e) {
            arena.close();
            throw new IOException(e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        } finally {
            LibC.close(fd); // the mappings keep the file
        }
        return new GuestMemory(regions, arena);
    }

    /**
     * Writes every region to {@code file}, lowest address first, one after the other (what {@link #mapFile}
     * reads back). Pages that are all zeros are left as holes, so a guest that touched little of its RAM gives
     * a small, sparse file. Call while nothing writes guest memory (the machine paused).
     */
    public void saveTo(Path file) throws IOException {
        final int page = 4096;
        MemorySegment zeros = Arena.global().allocate(page, page);
        long position = 0;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (GuestRegion r : regions) {
                MemorySegment host = r.host();
                long size = r.size();
                long run = -1; // start of the run of non-zero pages being gathered
                for (long at = 0; at <= size; at += page) {
                    boolean zero = at == size || host.asSlice(at, Math.min(page, size - at)).mismatch(zeros.asSlice(0, Math.min(page, size - at))) == -1;
                    if (!zero && run < 0) {
                        run = at;
                    }
                    if ((zero || at - run >= 1 << 20) && run >= 0) {
                        long end = Math.min(at, size);
                        write(out, host.asSlice(run, end - run), position + run);
                        run = zero ? -1 : at;
                    }
                }
                position += size;
            }
            // the file's length is the RAM's, holes included
            if (out.size() < position) {
                out.write(ByteBuffer.allocate(1), position - 1);
            }
        }
    }

    private static void write(FileChannel out, MemorySegment data, long position) throws IOException {
        ByteBuffer b = data.asByteBuffer();
        while (b.hasRemaining()) {
            position += out.write(b, position);
        }
    }

    /** Guest memory over segments someone else owns; {@code owner} is closed by {@link #close()}. */
    public static GuestMemory of(List<GuestRegion> regions, AutoCloseable owner) {
        return new GuestMemory(regions, owner);
    }

    /** The regions, lowest address first. */
    public List<GuestRegion> regions() {
        return List.of(regions);
    }

    /** Total bytes of RAM. */
    public long size() {
        long total = 0;
        for (GuestRegion r : regions) {
            total += r.size();
        }
        return total;
    }

    /** True when {@code [gpa, gpa+length)} lies wholly inside one region. */
    public boolean contains(long gpa, long length) {
        return find(gpa, length) != null;
    }

    private GuestRegion find(long gpa, long length) {
        for (GuestRegion r : regions) {
            if (r.contains(gpa, length)) {
                return r;
            }
        }
        return null;
    }

    private MemorySegment at(long gpa, long length) throws GuestMemoryException {
        GuestRegion r = region(gpa, length);
        return r.host().asSlice(offset(r, gpa), length);
    }

    private long offset(GuestRegion r, long gpa) {
        return gpa - r.guestAddress();
    }

    private GuestRegion region(long gpa, long length) throws GuestMemoryException {
        GuestRegion r = find(gpa, length);
        if (r == null) {
            throw new GuestMemoryException(gpa, length);
        }
        return r;
    }

    /**
     * A little-endian direct buffer over {@code length} bytes of guest RAM at {@code gpa}: reads and writes
     * go straight to guest memory.
     */
    public ByteBuffer buffer(long gpa, int length) throws GuestMemoryException {
        return at(gpa, length).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    public byte readByte(long gpa) throws GuestMemoryException {
        GuestRegion r = region(gpa, 1);
        return r.host().get(ValueLayout.JAVA_BYTE, offset(r, gpa));
    }

    public short readShort(long gpa) throws GuestMemoryException {
        GuestRegion r = region(gpa, 2);
        return r.host().get(U16, offset(r, gpa));
    }

    public int readInt(long gpa) throws GuestMemoryException {
        GuestRegion r = region(gpa, 4);
        return r.host().get(U32, offset(r, gpa));
    }

    public long readLong(long gpa) throws GuestMemoryException {
        GuestRegion r = region(gpa, 8);
        return r.host().get(U64, offset(r, gpa));
    }

    public void writeByte(long gpa, byte value) throws GuestMemoryException {
        GuestRegion r = region(gpa, 1);
        r.host().set(ValueLayout.JAVA_BYTE, offset(r, gpa), value);
    }

    public void writeShort(long gpa, short value) throws GuestMemoryException {
        GuestRegion r = region(gpa, 2);
        r.host().set(U16, offset(r, gpa), value);
    }

    public void writeInt(long gpa, int value) throws GuestMemoryException {
        GuestRegion r = region(gpa, 4);
        r.host().set(U32, offset(r, gpa), value);
    }

    public void writeLong(long gpa, long value) throws GuestMemoryException {
        GuestRegion r = region(gpa, 8);
        r.host().set(U64, offset(r, gpa), value);
    }

    /** Copies {@code dst.length} bytes from guest RAM at {@code gpa}. */
    public void read(long gpa, byte[] dst) throws GuestMemoryException {
        MemorySegment.copy(at(gpa, dst.length), ValueLayout.JAVA_BYTE, 0, dst, 0, dst.length);
    }

    /** Copies {@code src} into guest RAM at {@code gpa}. */
    public void write(long gpa, byte[] src) throws GuestMemoryException {
        MemorySegment.copy(src, 0, at(gpa, src.length), ValueLayout.JAVA_BYTE, 0, src.length);
    }

    /** Copies {@code src}'s remaining bytes into guest RAM at {@code gpa}, consuming them. */
    public void write(long gpa, ByteBuffer src) throws GuestMemoryException {
        int n = src.remaining();
        at(gpa, n).copyFrom(MemorySegment.ofBuffer(src));
        src.position(src.limit());
    }

    /** Sets {@code length} bytes at {@code gpa} to {@code value}. */
    public void fill(long gpa, long length, byte value) throws GuestMemoryException {
        at(gpa, length).fill(value);
    }

    /** Releases the host mappings. No access may follow. */
    @Override
    public void close() {
        try {
            owner.close();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("releasing guest memory failed", e);
        }
    }
}
