package dev.nimbus.devices.log;

import org.junit.jupiter.api.Test;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.ResourceBundle;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class RateLimitedLogTest {
    /** A System.Logger that keeps its lines. */
    static final class Recording implements System.Logger {
        final List<String> lines = new ArrayList<>();

        @Override public String getName() { return "recording"; }
        @Override public boolean isLoggable(Level level) { return true; }
        @Override public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) { lines.add(level + " " + msg); }
        @Override public void log(Level level, ResourceBundle bundle, String format, Object... params) {
            lines.add(level + " " + (params == null ? format : java.text.MessageFormat.format(format, params)));
        }
    }

    final Recording out = new Recording();
    final AtomicLong now = new AtomicLong(1_000);
    final RateLimitedLog log = new RateLimitedLog(out, now::get, 10_000);

    @Test
    void oneLinePerKindPerIntervalAndTheNextSaysHowManyWereLeftOut() {
        for (int i = 0; i < 5000; i++) {
            log.log(Level.WARNING, "bar", "BAR {0} conflicts", String.valueOf(i));
        }
        assertThat(out.lines).containsExactly("WARNING BAR 0 conflicts");
        assertThat(log.suppressed("bar")).isEqualTo(4999);

        now.addAndGet(10_000);
        log.log(Level.WARNING, "bar", "BAR {0} conflicts", "5000");
        assertThat(out.lines).containsExactly("WARNING BAR 0 conflicts",
                "WARNING BAR 5000 conflicts (and 4999 more like it since the last such line, not logged)");
        assertThat(log.suppressed("bar")).isZero();
    }

    @Test
    void kindsAreLimitedEachOnTheirOwn() {
        log.log(Level.WARNING, "a", "first a");
        log.log(Level.WARNING, "b", "first b");
        log.log(Level.WARNING, "a", "second a");
        assertThat(out.lines).containsExactly("WARNING first a", "WARNING first b");
    }
}
