package dev.nimbus.hypervisor.arch;

import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reading the files of a boot the way every arch platform that loads a Linux {@code Image} does (arm64,
 * riscv64): the kernel file whole, gunzipped when it is gzip, and the initramfs straight into guest RAM.
 * Every problem is a {@link BootException} of one line that starts with {@code kernel PATH:} or
 * {@code initramfs PATH:}.
 */
public final class BootFiles {
    private BootFiles() {}

    private static final int GZIP_MAGIC = 0x8b1f;
    private static final int CHUNK = 1 << 20;
    private static final long PAGE = 4096;

    /**
     * A kernel file's contents.
     *
     * @param bytes the image, decompressed when the file was compressed
     * @param gzip  whether the file was gzip-compressed
     */
    public record KernelFile(byte[] bytes, boolean gzip) {}

    /**
     * Reads the kernel at {@code path}, at most {@code maxBytes} of it (decompressed, for a gzip file).
     *
     * @throws BootException naming the file when it is missing, unreadable, corrupt or too big
     */
    public static KernelFile readKernel(Path path, long maxBytes) throws BootException {
        String what = "kernel " + path;
        checkRegularFile(what, path);
        byte[] file;
        try {
            long size = Files.size(path);
            if (size > maxBytes) {
                throw new BootException(String.format("%s: %d bytes, more than the %d bytes of RAM a kernel may use", what, size, maxBytes));
            }
            file = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new BootException(what + ": cannot read it: " + describe(e), e);
        }
        boolean gzip = file.length >= 2 && ((file[0] & 0xff) | (file[1] & 0xff) << 8) == GZIP_MAGIC;
        return new KernelFile(gzip ? gunzip(what, file, maxBytes) : file, gzip);
    }

    /**
     * Reads the initramfs, when there is one, into guest memory at the highest page-aligned address that
     * ends by {@code limit} and starts at or above {@code floor} (rounded up to a page).
     *
     * @param below what sits at {@code limit}, for the message when the file does not fit ({@code the device tree})
     * @return where it went
     * @throws BootException naming the file when it is missing, empty, unreadable or does not fit
     */
    public static Optional<AddressRange> loadInitramfs(GuestMemory memory, Optional<Path> initramfs, long floor, long limit,
                                                       String below) throws BootException, GuestMemoryException {
        if (initramfs.isEmpty()) {
            return Optional.empty();
        }
        Path path = initramfs.get();
        String what = "initramfs " + path;
        checkRegularFile(what, path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                throw new BootException(what + ": the file is empty");
            }
            long lowest = (floor + PAGE - 1) & -PAGE;
            long address = (limit - size) & -PAGE;
            if (size > limit || address < lowest) {
                throw new BootException(String.format("%s: %d bytes do not fit in RAM between the kernel's end (0x%x) and %s (0x%x)",
                        what, size, lowest, below, limit));
            }
            for (long done = 0; done < size; ) {
                int n = (int) Math.min(CHUNK, size - done);
                var buffer = memory.buffer(address + done, n);
                while (buffer.hasRemaining()) {
                    if (ch.read(buffer, done + buffer.position()) < 0) {
                        throw new BootException(what + ": the file got shorter while it was read");
                    }
                }
                done += n;
            }
            return Optional.of(new AddressRange(address, size));
        } catch (IOException e) {
            throw new BootException(what + ": cannot read it: " + describe(e), e);
        }
    }

    private static void checkRegularFile(String what, Path path) throws BootException {
        if (!Files.exists(path)) {
            throw new BootException(what + ": no such file");
        }
        if (!Files.isRegularFile(path)) {
            throw new BootException(what + ": not a regular file");
        }
    }

    private static byte[] gunzip(String what, byte[] file, long maxBytes) throws BootException {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(file), 64 * 1024)) {
            // a guess at the image's size; file.length * 3 alone overflows an int for files over 682 MiB, which
            // maxBytes (up to 1 GiB of RAM) lets through, and would ask for the whole guess at once
            ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(Math.min(3L * file.length, maxBytes), 64 << 20));
            byte[] buf = new byte[64 * 1024];
            for (int n; (n = in.read(buf)) > 0; ) {
                if (out.size() + (long) n > maxBytes) {
                    throw new BootException(String.format("%s: decompresses to more than the %d bytes of RAM a kernel may use", what, maxBytes));
                }
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } catch (ZipException | EOFException e) {
            throw new BootException(what + ": gzip data is corrupt or cut short: " + describe(e), e);
        } catch (IOException e) {
            throw new BootException(what + ": cannot decompress it: " + describe(e), e);
        }
    }

    private static String describe(Exception e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
