package dev.nimbus.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.logging.ErrorManager;
import java.util.logging.Handler;
import java.util.logging.LogRecord;

/**
 * {@code --log-file PATH}: the log appended to PATH, never more than {@code limit} bytes in it. When a line
 * would take the file past the limit, PATH becomes {@code PATH.1} (replacing the one before) and a fresh
 * PATH starts, so the log takes at most twice the limit on disk however much a guest makes the VMM log,
 * and the newest lines are always in PATH.
 */
final class CappedLogFile extends Handler {
    /** Each of the two files' limit, unless a test says otherwise. */
    static final long DEFAULT_LIMIT = 32L << 20;

    private final Path path;
    private final long limit;
    private OutputStream out;
    private long size;

    CappedLogFile(Path path, long limit) throws IOException {
        this.path = path;
        this.limit = limit;
        open();
    }

    private void open() throws IOException {
        out = Files.newOutputStream(path, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        size = Files.size(path);
    }

    @Override
    public synchronized void publish(LogRecord record) {
        if (!isLoggable(record)) {
            return;
        }
        byte[] line;
        try {
            line = getFormatter().format(record).getBytes(StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            reportError("cannot format a log record", e, ErrorManager.FORMAT_FAILURE);
            return;
        }
        try {
            if (size > 0 && size + line.length > limit) {
                rotate();
            }
            out.write(line);
            out.flush();
            size += line.length;
        } catch (IOException e) {
            reportError("cannot write the log file " + path, e, ErrorManager.WRITE_FAILURE);
        }
    }

    private void rotate() throws IOException {
        out.close();
        Files.move(path, path.resolveSibling(path.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
        open();
    }

    @Override
    public synchronized void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            reportError("cannot flush the log file " + path, e, ErrorManager.FLUSH_FAILURE);
        }
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            reportError("cannot close the log file " + path, e, ErrorManager.CLOSE_FAILURE);
        }
    }
}
