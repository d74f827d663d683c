package dev.nimbus.vmm;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Nimbus logs through {@link System.Logger}, which lands in java.util.logging; this sets it up once at
 * start: one line per event, to standard error or {@code --log-file} (at most 32 MiB, then the file moves to
 * {@code PATH.1} and a new one starts), at the level {@code -v} chose
 * (none: warnings, {@code -v}: info, {@code -vv}: debug, {@code -vvv}: everything).
 */
public final class Logging {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

    private Logging() {}

    public static void configure(int verbosity, Path logFile) throws IOException {
        configure(verbosity, logFile, CappedLogFile.DEFAULT_LIMIT);
    }

    /** The same, with each of the log file's two generations held to {@code limit} bytes ({@link CappedLogFile}). */
    static void configure(int verbosity, Path logFile, long limit) throws IOException {
        Level level = switch (verbosity) {
            case 0 -> Level.WARNING;
            case 1 -> Level.INFO;
            case 2 -> Level.FINE;
            default -> Level.ALL;
        };
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        Handler handler = logFile == null ? new ConsoleHandler() : new CappedLogFile(logFile, limit);
        handler.setLevel(level);
        handler.setFormatter(new OneLine());
        root.addHandler(handler);
        root.setLevel(level);
    }

    /** {@code 12:00:01.234 WARNING Bus: message} and, for a throwable, its one-line description. */
    private static final class OneLine extends Formatter {
        @Override
        public String format(LogRecord r) {
            String source = r.getLoggerName() == null ? "" : r.getLoggerName().substring(r.getLoggerName().lastIndexOf('.') + 1);
            String msg = formatMessage(r).replace('\n', ' ');
            String thrown = r.getThrown() == null ? "" : " (" + r.getThrown() + ")";
            return TIME.format(Instant.ofEpochMilli(r.getMillis())) + " " + r.getLevel().getName() + " " + source + ": " + msg + thrown + System.lineSeparator();
        }
    }
}
