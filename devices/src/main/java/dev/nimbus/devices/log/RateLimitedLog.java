package dev.nimbus.devices.log;

import java.lang.System.Logger.Level;
import java.text.MessageFormat;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Logging of what a guest can make happen as often as it likes (a BAR written over another, a queue broken
 * and reset in a loop, an I/O error on every request): at most one line per kind per interval. The lines
 * left out are counted, and the next line of that kind says how many there were, so nothing is hidden and
 * a guest cannot flood the log (5,000 conflicting BAR writes made 10,000 lines in 166 ms before).
 */
public final class RateLimitedLog {
    /** One line per kind per this long. */
    public static final long INTERVAL_SECONDS = 10;

    private final System.Logger log;
    private final LongSupplier nanoClock;
    private final long intervalNanos;
    private final Map<String, Kind> kinds = new HashMap<>();

    private static final class Kind {
        long lastNanos;
        long suppressed;
    }

    public RateLimitedLog(System.Logger log) {
        this(log, System::nanoTime, TimeUnit.SECONDS.toNanos(INTERVAL_SECONDS));
    }

    RateLimitedLog(System.Logger log, LongSupplier nanoClock, long intervalNanos) {
        this.log = log;
        this.nanoClock = nanoClock;
        this.intervalNanos = intervalNanos;
    }

    /**
     * Logs {@code format} ({@link MessageFormat}) with {@code args} at {@code level}, unless a line of the
     * same {@code kind} went out less than the interval ago; then it only counts it.
     */
    public void log(Level level, String kind, String format, Object... args) {
        long suppressed = admit(kind);
        if (suppressed >= 0 && log.isLoggable(level)) {
            log.log(level, MessageFormat.format(format, args) + note(suppressed));
        }
    }

    /** The same for a line with a stack trace. */
    public void log(Level level, String kind, String message, Throwable thrown) {
        long suppressed = admit(kind);
        if (suppressed >= 0 && log.isLoggable(level)) {
            log.log(level, message + note(suppressed), thrown);
        }
    }

    /** -1 when {@code kind} had a line within the interval (counted), else how many were left out before this one. */
    private synchronized long admit(String kind) {
        long now = nanoClock.getAsLong();
        Kind k = kinds.get(kind);
        if (k != null && now - k.lastNanos < intervalNanos) {
            k.suppressed++;
            return -1;
        }
        if (k == null) {
            k = new Kind();
            kinds.put(kind, k);
        }
        long suppressed = k.suppressed;
        k.suppressed = 0;
        k.lastNanos = now;
        return suppressed;
    }

    private static String note(long suppressed) {
        return suppressed > 0 ? " (and " + suppressed + " more like it since the last such line, not logged)" : "";
    }

    /** Lines of {@code kind} counted but not logged since its last line. */
    public synchronized long suppressed(String kind) {
        Kind k = kinds.get(kind);
        return k == null ? 0 : k.suppressed;
    }
}
