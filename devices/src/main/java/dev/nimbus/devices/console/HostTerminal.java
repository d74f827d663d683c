package dev.nimbus.devices.console;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ProcessBuilder.Redirect;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The terminal on the VMM's standard input, put in raw mode for a serial console and restored afterwards.
 * Raw mode (no line editing, no echo, no signals from ^C, no output processing) hands every key to the guest;
 * the guest's own tty does echo and CR/LF. The settings are changed and restored with {@code stty}, which
 * acts on its standard input, here the VMM's: no native code. Restoring happens on {@link #close()} and, if
 * the VMM exits without it, from a shutdown hook.
 */
public final class HostTerminal implements AutoCloseable {
    private final String saved;
    private final Thread restoreOnExit;
    private boolean restored;

    private HostTerminal(String saved) {
        this.saved = saved;
        this.restoreOnExit = new Thread(this::restoreQuietly, "restore-terminal");
    }

    /**
     * Puts the terminal on standard input in raw mode. Empty when standard input is not a terminal (a pipe,
     * a file, /dev/null), which then needs nothing restored.
     *
     * @throws IOException when {@code stty} cannot be run, or fails on a terminal
     */
    public static Optional<HostTerminal> enterRawMode() throws IOException {
        Result settings = stty("-g");
        if (settings.exit() != 0) {
            return Optional.empty(); // "Inappropriate ioctl for device": not a terminal
        }
        HostTerminal terminal = new HostTerminal(settings.output().strip());
        Result raw = stty("raw", "-echo");
        if (raw.exit() != 0) {
            throw new IOException("stty raw -echo failed: " + raw.output().strip());
        }
        Runtime.getRuntime().addShutdownHook(terminal.restoreOnExit);
        return Optional.of(terminal);
    }

    /** The settings to go back to, as {@code stty -g} printed them. */
    public String savedSettings() {
        return saved;
    }

    /** Puts the terminal back as it was. */
    @Override
    public synchronized void close() throws IOException {
        if (restored) {
            return;
        }
        restored = true;
        try {
            Runtime.getRuntime().removeShutdownHook(restoreOnExit);
        } catch (IllegalStateException e) {
            // already shutting down: the hook is running or has run
        }
        Result r = stty(saved);
        if (r.exit() != 0) {
            throw new IOException("restoring the terminal (stty " + saved + ") failed: " + r.output().strip());
        }
    }

    private void restoreQuietly() {
        try {
            close();
        } catch (IOException e) {
            System.err.println("nimbus: " + e.getMessage() + "; run 'stty sane' to repair the terminal");
        }
    }

    private record Result(int exit, String output) {}

    private static Result stty(String... args) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(concat("stty", args))
                .redirectInput(Redirect.INHERIT)
                .redirectErrorStream(true);
        Process p = pb.start();
        try (InputStream out = p.getInputStream()) {
            String text = new String(out.readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("stty " + String.join(" ", args) + " did not finish");
            }
            return new Result(p.exitValue(), text);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running stty", e);
        }
    }

    private static List<String> concat(String first, String... rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return List.of(all);
    }
}
