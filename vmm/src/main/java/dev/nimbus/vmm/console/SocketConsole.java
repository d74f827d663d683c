package dev.nimbus.vmm.console;

import dev.nimbus.host.Landlock;
import dev.nimbus.devices.console.ConsoleInput;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A guest console on a Unix socket ({@code --serial socket=PATH}, {@code "mode": "Socket"}), as Cloud
 * Hypervisor offers it: the VMM listens at the path (mode 0600) and one client at a time gets the console,
 * the guest's output and its own keystrokes; a new client takes over from the last. Output to no client, or
 * to one that does not read, is dropped rather than holding the guest.
 */
public final class SocketConsole implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SocketConsole.class.getName());

    private final Path path;
    private final ServerSocketChannel server;
    private volatile SocketChannel client;
    private volatile ConsoleInput target;
    private final Thread acceptor;
    private final ConsoleOutput output = ConsoleOutput.buffering(direct());

    private SocketConsole(Path path, ServerSocketChannel server) {
        this.path = path;
        this.server = server;
        this.acceptor = Thread.ofPlatform().daemon(true).name("console socket " + path).start(this::serve);
    }

    /** Listens at {@code path}; an existing file there is an error (the caller names the option). */
    public static SocketConsole listen(Path path) throws IOException {
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(path + " exists");
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            return new SocketConsole(path, server);
        } catch (IOException | RuntimeException e) {
            server.close();
            Files.deleteIfExists(path);
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /**
     * Where the guest's output goes: to the client connected now, if any, through one buffer per console
     * flushed at each newline and every 20 ms (a UART writes a byte at a time from the vCPU thread).
     */
    public OutputStream output() {
        return output;
    }

    private OutputStream direct() {
        return new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                SocketChannel c = client;
                if (c == null) {
                    return;
                }
                try {
                    // non-blocking: what the client's socket buffer cannot take now is dropped
                    c.write(ByteBuffer.wrap(b, off, len));
                } catch (IOException e) {
                    drop(c);
                }
            }
        };
    }

    /** Sends what the client types to {@code input}. */
    public void attach(ConsoleInput input) {
        this.target = input;
    }

    private void serve() {
        try {
            while (true) {
                SocketChannel c = server.accept();
                Landlock.joinEnforced(); // before it makes the client's thread, which then inherits it
                SocketChannel old = client;
                client = null;
                if (old != null) {
                    drop(old); // the newest client has the console
                }
                Thread.ofPlatform().daemon(true).name("console socket client " + path).start(() -> read(c));
            }
        } catch (ClosedChannelException closed) {
            // the machine is gone
        } catch (IOException e) {
            LOG.log(Level.WARNING, "console socket {0} stopped accepting: {1}", path, e.getMessage());
        }
    }

    private void read(SocketChannel c) {
        ByteBuffer buf = ByteBuffer.allocate(256);
        try (java.nio.channels.Selector selector = java.nio.channels.Selector.open()) {
            c.configureBlocking(false);
            c.register(selector, java.nio.channels.SelectionKey.OP_READ);
            client = c;
            while (c.isOpen()) {
                selector.select();
                selector.selectedKeys().clear();
                buf.clear();
                int n = c.read(buf);
                if (n < 0) {
                    break;
                }
                ConsoleInput t = target;
                if (n > 0 && t != null) {
                    t.receive(buf.array(), 0, n);
                }
            }
        } catch (IOException e) {
            // the client went away
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            drop(c);
        }
    }

    private void drop(SocketChannel c) {
        if (client == c) {
            client = null;
        }
        try {
            c.close();
        } catch (IOException ignored) {
            // closing a client's socket: nothing more to do
        }
    }

    @Override
    public void close() {
        try {
            output.close();
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "flushing {0}: {1}", path, e.getMessage());
        }
        try {
            server.close();
        } catch (IOException ignored) {
            // closing the listening socket
        }
        SocketChannel c = client;
        if (c != null) {
            drop(c);
        }
        try {
            acceptor.join(5_000);
            Files.deleteIfExists(path);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "removing {0}: {1}", path, e.getMessage());
        }
    }
}
