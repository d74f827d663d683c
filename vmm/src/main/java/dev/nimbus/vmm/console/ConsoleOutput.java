package dev.nimbus.vmm.console;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Where a guest console's bytes go: Nimbus's standard output, a file, or nowhere. A UART hands over one
 * byte per guest register write, so the stream is buffered and flushed at each newline and every 20 ms,
 * which keeps a shell prompt visible without a system call per character.
 */
public final class ConsoleOutput extends OutputStream {
    private final OutputStream out;
    private final ScheduledExecutorService flusher;
    private boolean dirty;

    private ConsoleOutput(OutputStream target) {
        this.out = new BufferedOutputStream(target, 8192);
        this.flusher = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true).name("console-flush").unstarted(r));
        flusher.scheduleWithFixedDelay(this::flushQuietly, 20, 20, TimeUnit.MILLISECONDS);
    }

    /** Nimbus's own standard output (not closed by {@link #close()}). */
    public static ConsoleOutput stdout() {
        return new ConsoleOutput(new FileOutputStream(FileDescriptor.out) {
            @Override
            public void close() {
                // standard output outlives the console
            }
        });
    }

    /** A file, created or truncated. */
    public static ConsoleOutput file(Path path) throws IOException {
        return new ConsoleOutput(new FileOutputStream(path.toFile()));
    }

    /**
     * Buffers for a target that takes each write straight to a system call (a pty, a socket client), which
     * {@link #close()} closes.
     */
    static ConsoleOutput buffering(OutputStream target) {
        return new ConsoleOutput(target);
    }

    /** Drops everything (the {@code null} console mode). */
    public static OutputStream discard() {
        return OutputStream.nullOutputStream();
    }

    @Override
    public synchronized void write(int b) throws IOException {
        out.write(b);
        dirty = true;
        if (b == '\n') {
            out.flush();
            dirty = false;
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        out.flush();
        dirty = false;
    }

    @Override
    public synchronized void flush() throws IOException {
        out.flush();
        dirty = false;
    }

    private synchronized void flushQuietly() {
        if (dirty) {
            try {
                flush();
            } catch (IOException e) {
                dirty = false; // the reader went away; the guest must not notice
            }
        }
    }

    @Override
    public void close() throws IOException {
        flusher.shutdownNow();
        synchronized (this) {
            out.flush();
            out.close();
        }
    }
}
