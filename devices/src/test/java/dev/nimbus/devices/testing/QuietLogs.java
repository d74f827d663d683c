package dev.nimbus.devices.testing;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Turns Nimbus's log off for one fuzz execution and back to what it was after: what a guest can make a
 * device warn about once per device would otherwise be one line per execution, while the other tests of
 * the same JVM read those warnings.
 */
public final class QuietLogs implements AutoCloseable {
    private static final Logger NIMBUS = Logger.getLogger("dev.nimbus");
    private final Level before;

    private QuietLogs() {
        before = NIMBUS.getLevel();
        NIMBUS.setLevel(Level.OFF);
    }

    public static QuietLogs during() {
        return new QuietLogs();
    }

    @Override
    public void close() {
        NIMBUS.setLevel(before);
    }
}
