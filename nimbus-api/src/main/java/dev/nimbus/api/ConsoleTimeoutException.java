package dev.nimbus.api;

import java.time.Duration;

/**
 * The guest did not print what a {@link Console} waited for within the time given. The message names the
 * console, the pattern and the timeout, and ends with the console's last lines; {@link #transcriptTail()} holds
 * them too.
 */
public final class ConsoleTimeoutException extends NimbusException {
    private static final long serialVersionUID = 1L;
    /** The console's last lines. */
    private final String transcriptTail;

    ConsoleTimeoutException(String console, String awaited, Duration timeout, String note, String transcriptTail) {
        super("the " + console + " console: no " + awaited + " within " + timeout.toMillis() + " ms"
                + (note.isEmpty() ? "" : " " + note)
                + (transcriptTail.isEmpty() ? "; the guest printed nothing" : "; its last lines:\n" + transcriptTail), null);
        this.transcriptTail = transcriptTail;
    }

    /**
     * The console's last lines when the wait ended.
     *
     * @return the last lines
     */
    public String transcriptTail() {
        return transcriptTail;
    }

    /**
     * 1.
     *
     * @return the exit code
     */
    @Override
    public int exitCode() {
        return 1;
    }
}
