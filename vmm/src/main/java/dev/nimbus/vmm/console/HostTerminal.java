package dev.nimbus.vmm.console;

import dev.nimbus.host.Landlock;
import dev.nimbus.devices.console.ConsoleInput;

import javax.inject.Inject;
import javax.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;

/**
 * Nimbus's own terminal as a guest console's input. One reader thread per process takes what is typed on
 * standard input and hands it to whichever console is attached (a reboot builds a new machine with a new
 * UART; the reader stays). When standard input is a terminal it is put into raw mode (keys reach the guest
 * unchanged, Ctrl-C included) while a console is attached, and restored when it detaches or at exit.
 */
@Singleton
public final class HostTerminal implements ConsoleHost {
    private static final System.Logger LOG = System.getLogger(HostTerminal.class.getName());

    private volatile ConsoleInput sink;
    private Thread reader;
    private String savedMode;
    private Thread restoreAtExit;

    /** The process's terminal: one per VMM process, made by the Dagger component (tests make their own). */
    @Inject
    public HostTerminal() {}

    /** Standard output, buffered per machine (closing it flushes and leaves standard output open). */
    @Override
    public OutputStream output(Which console) {
        return ConsoleOutput.stdout();
    }

    /**
     * Sends what is typed to {@code target} (it may block until the guest has room) until the returned handle
     * is closed; one console at a time has the terminal, whichever it is.
     */
    @Override
    public AutoCloseable attach(Which console, ConsoleInput target) {
        return attach(target);
    }

    /** Sends what is typed to {@code target} (it may block until the guest has room) until the returned handle is closed. */
    public synchronized AutoCloseable attach(ConsoleInput target) {
        if (sink != null) {
            throw new IllegalStateException("a console is already attached to the terminal");
        }
        sink = target;
        enterRawMode();
        if (reader == null) {
            reader = Thread.ofPlatform().daemon(true).name("host-terminal").start(() -> forward(System.in));
        }
        return this::detach;
    }

    private synchronized void detach() {
        sink = null;
        restore();
    }

    private void forward(InputStream in) {
        byte[] buf = new byte[256];
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                Landlock.joinEnforced();
                ConsoleInput s = sink;
                if (s != null) {
                    s.receive(buf, 0, n);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "terminal input ended: {0}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void enterRawMode() {
        if (savedMode != null || System.console() == null || !System.console().isTerminal()) {
            return;
        }
        String saved = stty("-g");
        if (saved != null && stty("raw", "-echo") != null) {
            savedMode = saved.strip();
            restoreAtExit = Thread.ofPlatform().unstarted(this::restore);
            Runtime.getRuntime().addShutdownHook(restoreAtExit);
        }
    }

    private synchronized void restore() {
        if (savedMode != null) {
            stty(savedMode);
            savedMode = null;
            try {
                Runtime.getRuntime().removeShutdownHook(restoreAtExit);
            } catch (IllegalStateException e) {
                // the JVM is exiting and running this very hook
            }
        }
    }

    /** Runs stty on the controlling terminal; returns its output, or null when it failed. */
    private static String stty(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "stty";
        System.arraycopy(args, 0, cmd, 1, args.length);
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
