package dev.nimbus.vmm.console;

import dev.nimbus.host.Landlock;
import dev.nimbus.devices.console.ConsoleInput;
import dev.nimbus.host.Epoll;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.Pty;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.file.Path;

/**
 * A guest console on a pseudo-terminal ({@code --serial pty}, {@code --console pty}, {@code "mode": "Pty"}),
 * as Cloud Hypervisor offers it: the guest's output goes to the pty, what a user types on its slave
 * ({@link #path()}, reported by vm.info; {@code screen /dev/pts/3}, libvirt's {@code virsh console}) goes to
 * the guest. A reader thread waits on the master and on a stop eventfd; output never waits (a pty no one
 * reads drops what its buffer cannot hold, so the guest is not held).
 */
public final class PtyConsole implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PtyConsole.class.getName());
    private static final long INPUT = 1;
    private static final long STOP = 2;

    private final Pty pty;
    private final EventFd stop = EventFd.create();
    private final Epoll epoll = Epoll.create(2);
    private final ConsoleOutput output;
    private Thread reader;

    private PtyConsole(Pty pty) {
        this.pty = pty;
        epoll.add(pty.masterFd(), INPUT);
        epoll.add(stop.fd(), STOP);
        this.output = ConsoleOutput.buffering(new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                pty.write(b, off, len);
            }
        });
    }

    /** A new pty for a console. */
    public static PtyConsole open() {
        Pty pty = Pty.open();
        try {
            return new PtyConsole(pty);
        } catch (RuntimeException e) {
            pty.close();
            throw e;
        }
    }

    /** The slave a user attaches to: {@code /dev/pts/3}. */
    public Path path() {
        return pty.path();
    }

    /**
     * Where the guest's output goes: one buffer per console, flushed at each newline and every 20 ms, so a
     * UART's byte-at-a-time output does not cost a system call per byte on the vCPU thread.
     */
    public OutputStream output() {
        return output;
    }

    /** Sends what the user types to {@code target} until this console is closed. */
    public synchronized void attach(ConsoleInput target) {
        if (reader != null) {
            throw new IllegalStateException("the pty " + path() + " already has a console");
        }
        reader = Thread.ofPlatform().daemon(true).name("pty " + path()).start(() -> forward(target));
    }

    private void forward(ConsoleInput target) {
        byte[] buf = new byte[256];
        try {
            while (true) {
                int ready = epoll.await(-1);
                Landlock.joinEnforced(); // see docs/security.md: each thread joins at its next unit of work
                for (int i = 0; i < ready; i++) {
                    if (epoll.token(i) == STOP) {
                        return;
                    }
                }
                int n = pty.read(buf, 0, buf.length);
                if (n < 0) {
                    return;
                }
                if (n > 0) {
                    target.receive(buf, 0, n);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "console input from {0} ended: {1}", path(), e.getMessage());
        }
    }

    @Override
    public void close() {
        stop.signal();
        Thread r;
        synchronized (this) {
            r = reader;
        }
        try {
            output.close(); // the last partial line goes out before the pty does
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "flushing {0}: {1}", path(), e.getMessage());
        }
        if (r != null) {
            try {
                r.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        epoll.close();
        stop.close();
        pty.close();
    }
}
