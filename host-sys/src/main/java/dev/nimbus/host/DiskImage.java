package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A disk image file (or block device) as a virtual disk uses it: one descriptor, opened for reading (and
 * writing unless read-only), optionally with {@code O_DIRECT} so the host's page cache is bypassed. Data
 * moves with positional vectored calls ({@code preadv}/{@code pwritev}) straight between the file and the
 * caller's direct buffers (guest memory), never through the file position, so any number of threads may
 * read and write at once. {@link #flush()} is {@code fdatasync}.
 *
 * <p>The lock is an open file description lock ({@code F_OFD_SETLK}, what QEMU and Cloud Hypervisor take):
 * it belongs to this descriptor, so two opens of one image in one process conflict as two processes do, and
 * it conflicts with other processes' POSIX locks on the image.
 *
 * <p>With {@code O_DIRECT}, buffer addresses, lengths and file offsets must be multiples of
 * {@link #alignment()}, which {@link #open} finds by trying a read (512 bytes, else 4096); a file system
 * that takes neither refuses {@code O_DIRECT} with EINVAL, as one that cannot open it does.
 */
public final class DiskImage implements AutoCloseable {
    /** {@code O_DIRECT}: 0x10000 on AArch64 (its own value), 0x4000 on x86-64 and riscv64 (the generic one). */
    public static final int O_DIRECT = oDirect(System.getProperty("os.arch"));

    /** {@code O_DIRECT} on {@code arch} (as {@code os.arch} or {@code uname -m} names it). */
    static int oDirect(String arch) {
        return "aarch64".equals(arch) ? 0x10000 : 0x4000;
    }
    static final int F_OFD_SETLK = 37;
    static final short F_RDLCK = 0;
    static final short F_WRLCK = 1;
    private static final int SEEK_END = 2;
    /** {@code struct flock} on the 64-bit Linux ABIs: type, whence, (pad), start, len, pid, (pad). */
    private static final long FLOCK_SIZE = 32;

    /** Each thread's iovec scratch: calls on the I/O path allocate nothing but the buffers' segments. */
    private static final ThreadLocal<MemorySegment> IOV =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(LibC.IOVEC, LibC.IOV_MAX));

    /** The most a bounce buffer holds; a larger unaligned request goes through it in pieces. */
    static final int BOUNCE_BYTES = 1 << 20;
    /** Each I/O thread's bounce buffer for unaligned direct I/O, made the first time one needs it. */
    private static final ThreadLocal<MemorySegment> BOUNCE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(BOUNCE_BYTES, 4096));

    private final java.util.concurrent.atomic.LongAdder bounced = new java.util.concurrent.atomic.LongAdder();
    private final int fd;
    private final String name;
    private final boolean readOnly;
    private final int alignment;
    private volatile boolean closed;

    private DiskImage(int fd, String name, boolean readOnly, int alignment) {
        this.fd = fd;
        this.name = name;
        this.readOnly = readOnly;
        this.alignment = alignment;
    }

    /**
     * Opens {@code path} for reading, and writing unless {@code readOnly}, with {@code O_DIRECT} when
     * {@code direct}.
     *
     * @throws SyscallException naming {@code open(path)} (ENOENT, EACCES...; EINVAL when {@code direct} and
     *                          the file system does not do direct I/O)
     */
    public static DiskImage open(Path path, boolean readOnly, boolean direct) {
        int flags = (readOnly ? LibC.O_RDONLY : LibC.O_RDWR) | LibC.O_CLOEXEC | (direct ? O_DIRECT : 0);
        int fd = LibC.open(path.toString(), flags, 0);
        try {
            int alignment = direct ? probeAlignment(fd, path.toString()) : 1;
            return new DiskImage(fd, path.toString(), readOnly, alignment);
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /** The smallest alignment a direct read at offset 0 takes: 512, else 4096; EINVAL when neither. */
    private static int probeAlignment(int fd, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(8192, 4096);
            MemorySegment iov = arena.allocate(LibC.IOVEC);
            int last = Errno.EINVAL;
            for (int align : new int[] {512, 4096}) {
                // an address aligned to align and to nothing larger, so a stricter file system says so
                MemorySegment buf = page.asSlice(align == 512 ? 512 : 4096, align);
                iov.set(ValueLayout.ADDRESS, 0, buf);
                iov.set(JAVA_LONG, 8, align);
                long r = LibC.preadv(fd, iov, 1, 0);
                if (r >= 0) {
                    return align;
                }
                last = (int) -r;
                if (last != Errno.EINVAL) {
                    break;
                }
            }
            throw new SyscallException("open(" + name + ") with O_DIRECT", last,
                    "this file system does not do direct I/O on 512- or 4096-byte blocks");
        }
    }

    /**
     * Takes this descriptor's lock on the whole image: shared when it was opened read-only, exclusive
     * otherwise. False when another descriptor (this process's or another's) holds a conflicting one.
     */
    public boolean tryLock() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flock = arena.allocate(FLOCK_SIZE, 8);
            flock.set(ValueLayout.JAVA_SHORT, 0, readOnly ? F_RDLCK : F_WRLCK);
            flock.set(ValueLayout.JAVA_SHORT, 2, (short) 0); // SEEK_SET
            flock.set(JAVA_LONG, 8, 0L);
            flock.set(JAVA_LONG, 16, 0L); // to the end, however far it grows
            int r = LibC.fcntl(fd, F_OFD_SETLK, flock);
            if (r == -Errno.EAGAIN || r == -Errno.EACCES) {
                return false;
            }
            if (r < 0) {
                throw new SyscallException("fcntl(" + name + ", F_OFD_SETLK)", -r);
            }
            return true;
        }
    }

    /** The image's size in bytes (its end, for a file or a block device). */
    public long size() {
        long r = LibC.lseek(fd, 0, SEEK_END);
        if (r < 0) {
            throw new SyscallException("lseek(" + name + ")", (int) -r);
        }
        return r;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** Opened with {@code O_DIRECT}. */
    public boolean direct() {
        return alignment > 1;
    }

    /** What addresses, lengths and offsets of direct I/O must be multiples of; 1 without {@code O_DIRECT}. */
    public int alignment() {
        return alignment;
    }

    public int fd() {
        return fd;
    }

    public String name() {
        return name;
    }

    /**
     * Reads the image at {@code offset} into {@code buffers} (direct buffers, each from its position to its
     * limit, which are left as they are), as few {@code preadv} calls as the kernel allows. Returns the bytes
     * read: all of them, or fewer only where the image ends.
     */
    public long read(List<ByteBuffer> buffers, long offset) {
        return transfer(buffers, offset, true);
    }

    /** Writes {@code buffers} at {@code offset} ({@code pwritev}), all of them; returns the bytes written. */
    public long write(List<ByteBuffer> buffers, long offset) {
        return transfer(buffers, offset, false);
    }

    private long transfer(List<ByteBuffer> buffers, long offset, boolean read) {
        int count = buffers.size();
        MemorySegment[] segments = new MemorySegment[count];
        long total = 0;
        boolean aligned = offset % alignment == 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer b = buffers.get(i);
            if (!b.isDirect()) {
                throw new IllegalArgumentException("disk I/O needs direct buffers");
            }
            segments[i] = MemorySegment.ofBuffer(b);
            total += segments[i].byteSize();
            aligned &= segments[i].address() % alignment == 0 && segments[i].byteSize() % alignment == 0;
        }
        if (!aligned) {
            if (offset % alignment != 0 || total % alignment != 0) {
                throw new SyscallException((read ? "preadv(" : "pwritev(") + name + ")", Errno.EINVAL, "direct I/O of "
                        + total + " bytes at offset " + offset + " is not in whole blocks of " + alignment + " bytes");
            }
            return bounced(segments, total, offset, read);
        }
        return vectored(segments, total, offset, read);
    }

    /**
     * Direct I/O for buffers that are not aligned (a guest's byte-granular buffers): through this thread's
     * aligned bounce buffer, {@value #BOUNCE_BYTES} bytes at a time, copied to or from the buffers.
     */
    private long bounced(MemorySegment[] segments, long total, long offset, boolean read) {
        bounced.increment();
        MemorySegment bounce = BOUNCE.get();
        MemorySegment[] one = new MemorySegment[1];
        int seg = 0;
        long within = 0; // bytes of segments[seg] already copied
        long done = 0;
        while (done < total) {
            long chunk = Math.min(BOUNCE_BYTES, total - done);
            one[0] = bounce.asSlice(0, chunk);
            if (!read) {
                for (long copied = 0; copied < chunk; ) {
                    long n = Math.min(chunk - copied, segments[seg].byteSize() - within);
                    MemorySegment.copy(segments[seg], within, one[0], copied, n);
                    copied += n;
                    within += n;
                    if (within == segments[seg].byteSize()) {
                        seg++;
                        within = 0;
                    }
                }
            }
            long moved = vectored(one, chunk, offset + done, read);
            if (read) {
                for (long copied = 0; copied < moved; ) {
                    if (within == segments[seg].byteSize()) {
                        seg++;
                        within = 0;
                        continue;
                    }
                    long n = Math.min(moved - copied, segments[seg].byteSize() - within);
                    MemorySegment.copy(one[0], copied, segments[seg], within, n);
                    copied += n;
                    within += n;
                }
            }
            done += moved;
            if (moved < chunk) {
                break; // the end of the image
            }
        }
        return done;
    }

    private long vectored(MemorySegment[] segments, long total, long offset, boolean read) {
        int count = segments.length;
        MemorySegment iov = IOV.get();
        long entry = LibC.IOVEC.byteSize();
        long done = 0;
        int first = 0;
        long skip = 0; // bytes of segments[first] already moved
        while (done < total) {
            int n = 0;
            for (int i = first; i < count && n < LibC.IOV_MAX; i++, n++) {
                MemorySegment s = i == first ? segments[i].asSlice(skip) : segments[i];
                iov.set(ValueLayout.ADDRESS, n * entry, s);
                iov.set(JAVA_LONG, n * entry + 8, s.byteSize());
            }
            long r = read ? LibC.preadv(fd, iov, n, offset + done) : LibC.pwritev(fd, iov, n, offset + done);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r < 0) {
                throw new SyscallException((read ? "preadv(" : "pwritev(") + name + ")", (int) -r,
                        "offset " + (offset + done) + ", " + (total - done) + " bytes");
            }
            if (r == 0) {
                if (read) {
                    return done; // the end of the image
                }
                throw new SyscallException("pwritev(" + name + ")", Errno.EIO, "wrote nothing at offset " + (offset + done));
            }
            done += r;
            long left = r + skip;
            while (first < count && left >= segments[first].byteSize()) {
                left -= segments[first].byteSize();
                first++;
            }
            skip = left;
        }
        return done;
    }

    /** Requests that went through a bounce buffer (direct I/O on unaligned buffers) so far. */
    public long bouncedRequests() {
        return bounced.sum();
    }

    /** {@code fdatasync}: what was written has reached the disk. */
    public void flush() {
        int r;
        do {
            r = LibC.fdatasync(fd);
        } while (r == -Errno.EINTR);
        if (r < 0) {
            throw new SyscallException("fdatasync(" + name + ")", -r);
        }
    }

    /** Closes the descriptor (and with it the lock); the caller makes sure no I/O is under way. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
        }
    }
}
