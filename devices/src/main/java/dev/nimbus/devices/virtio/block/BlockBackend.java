package dev.nimbus.devices.virtio.block;

import dev.nimbus.host.DiskImage;
import dev.nimbus.host.SyscallException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;

/**
 * Where a virtio-blk disk's sectors live. Every call may come from several I/O threads at once, so an
 * implementation moves data at explicit offsets, never through a shared file position.
 */
public interface BlockBackend {
    /** Bytes of the image. */
    long size() throws IOException;

    /**
     * Reads at {@code offset} into {@code buffers} (guest memory: direct buffers, position to limit, left as
     * they are); returns the bytes read, fewer than asked only where the image ends.
     */
    long read(List<ByteBuffer> buffers, long offset) throws IOException;

    /** Writes {@code buffers} at {@code offset}, all of them; returns the bytes written. */
    long write(List<ByteBuffer> buffers, long offset) throws IOException;

    /** What was written reaches the disk ({@code fdatasync}). */
    void flush() throws IOException;

    /**
     * The block size direct I/O must be aligned to ({@code O_DIRECT}), shown to the guest as its logical block
     * size; 1 when the image goes through the host's page cache.
     */
    default int alignment() {
        return 1;
    }

    /** A {@link DiskImage}: positional vectored calls ({@code preadv}/{@code pwritev}) straight from guest memory. */
    static BlockBackend of(DiskImage image) {
        return new BlockBackend() {
            @Override
            public long size() throws IOException {
                try {
                    return image.size();
                } catch (SyscallException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public long read(List<ByteBuffer> buffers, long offset) throws IOException {
                try {
                    return image.read(buffers, offset);
                } catch (SyscallException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public long write(List<ByteBuffer> buffers, long offset) throws IOException {
                try {
                    return image.write(buffers, offset);
                } catch (SyscallException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public void flush() throws IOException {
                try {
                    image.flush();
                } catch (SyscallException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public int alignment() {
                return image.alignment();
            }
        };
    }

    /**
     * A {@link FileChannel} (tests, embedders with a channel of their own): one vectored call per request
     * after a seek, so requests on it take turns (the JDK has no positional scatter/gather); the VMM's disks
     * use {@link #of(DiskImage)}.
     */
    static BlockBackend of(FileChannel file) {
        return new BlockBackend() {
            @Override
            public long size() throws IOException {
                return file.size();
            }

            @Override
            public long read(List<ByteBuffer> buffers, long offset) throws IOException {
                return transfer(buffers, offset, true);
            }

            @Override
            public long write(List<ByteBuffer> buffers, long offset) throws IOException {
                return transfer(buffers, offset, false);
            }

            @Override
            public void flush() throws IOException {
                file.force(false);
            }

            private long transfer(List<ByteBuffer> buffers, long position, boolean read) throws IOException {
                ByteBuffer[] views = new ByteBuffer[buffers.size()];
                long total = 0;
                for (int i = 0; i < views.length; i++) {
                    views[i] = buffers.get(i).duplicate();
                    total += views[i].remaining();
                }
                long done = 0;
                int first = 0;
                synchronized (file) {
                    while (done < total) {
                        file.position(position + done);
                        long n = read ? file.read(views, first, views.length - first) : file.write(views, first, views.length - first);
                        if (n <= 0) {
                            if (read) {
                                return done; // the end of the image
                            }
                            throw new IOException("the image took nothing at byte " + (position + done));
                        }
                        done += n;
                        while (first < views.length && !views[first].hasRemaining()) {
                            first++;
                        }
                    }
                }
                return done;
            }
        };
    }
}
