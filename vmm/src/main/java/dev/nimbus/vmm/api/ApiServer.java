package dev.nimbus.vmm.api;

import dev.nimbus.host.InheritedSocket;
import dev.nimbus.host.Seccomp;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;

/**
 * The REST API's listener: HTTP/1.1 on a Unix domain socket (Jetty's Unix-domain connector), serving
 * {@link ApiHandler}. The socket is owner-only (mode 0600) from the moment its path exists (see
 * {@link #start}), and removed when the server stops.
 */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ApiServer.class.getName());
    /** Threads serving requests; each request blocks its thread until the VM-control thread answers. */
    private static final int MAX_THREADS = 16;
    /** A connection that sends nothing for this long is closed (a client stalled in its request body too). */
    private static final long IDLE_TIMEOUT_MILLIS = 30_000;
    /** The kernel's limit for a socket path (sun_path), less the terminating NUL. */
    private static final int MAX_PATH_BYTES = 107;
    /** How long {@link #close()} waits for requests in flight to be answered. */
    static final long STOP_TIMEOUT_MILLIS = 5_000;

    private final Server server;
    private final Path socket; // null: a socket handed down by a supervisor, whose file is not ours
    private final ApiConnector connector;

    private ApiServer(Server server, Path socket) {
        this.server = server;
        this.socket = socket;
        this.connector = (ApiConnector) server.getConnectors()[0];
    }

    /**
     * Starts serving {@code handler} on the listening Unix socket a supervisor handed down as descriptor
     * {@code fd} ({@code --api-socket fd=N}); its file, mode and life are the supervisor's. Throws, naming the
     * descriptor, when it is not open, not a Unix stream socket or not listening.
     */
    public static ApiServer adopt(int fd, ApiHandler handler) throws IOException {
        InheritedSocket.adopt(fd); // checked, and kept by the JDK as the process's inherited channel
        Server server = newServer(null, handler);
        try {
            server.start();
        } catch (Exception e) {
            stopQuietly(server);
            throw e instanceof IOException io ? io : new IOException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
        LOG.log(Level.INFO, "REST API listening on descriptor {0}", fd);
        return new ApiServer(server, null);
    }

    /**
     * Starts serving {@code handler} on a new socket at {@code socket}, which no one but this user can reach
     * at any moment: the socket is bound inside a fresh directory of mode 0700 next to {@code socket}, made
     * 0600 there, and only then renamed into place (rename(2) replaces atomically). A socket already at the
     * path is replaced only when it is stale (nothing answers on it: a VMM that died); a live one is refused
     * as in use, and any other file there is an error.
     */
    public static ApiServer start(Path socket, ApiHandler handler) throws IOException {
        Path target = socket.toAbsolutePath();
        refuseLiveOrForeign(target);
        Path parent = target.getParent();
        Path privateDir;
        try {
            privateDir = Files.createTempDirectory(parent, ".nimbus-api-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException | UnsupportedOperationException e) {
            throw new IOException("cannot make a private directory in " + parent + ": " + e.getMessage(), e);
        }
        Path bound = privateDir.resolve("s");
        if (bound.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            Files.deleteIfExists(privateDir);
            throw new IOException("the path is too long to be bound safely (" + bound + " is over " + MAX_PATH_BYTES
                    + " bytes); use a shorter one");
        }
        Server server = null;
        try {
            server = newServer(bound, handler);
            server.start();
            Files.setPosixFilePermissions(bound, EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
            refuseLiveOrForeign(target);   // once more, just before taking the path
            Files.move(bound, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Exception e) {
            if (server != null) {
                stopQuietly(server);
            }
            Files.deleteIfExists(bound);
            Files.deleteIfExists(privateDir);
            throw e instanceof IOException io ? io : new IOException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
        Files.deleteIfExists(privateDir);
        LOG.log(Level.INFO, "REST API listening on {0}", target);
        return new ApiServer(server, target);
    }

    /** Refuses a path that holds anything but a stale socket; a stale one is left for the rename to replace. */
    private static void refuseLiveOrForeign(Path target) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocket(target)) {
            throw new IOException(target + " exists and is not a socket");
        }
        if (answers(target)) {
            throw new IOException(target + " is in use: a running VMM answers on it (stop it, or choose another path)");
        }
    }

    /** Whether something accepts connections on the socket at {@code path}. */
    private static boolean answers(Path path) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(path));
            return true;
        } catch (IOException e) {
            return false;   // ECONNREFUSED: nobody listens (a VMM that died left it)
        }
    }

    private static Server newServer(Path bound, ApiHandler handler) {
        QueuedThreadPool threads = new QueuedThreadPool(MAX_THREADS, 2) {
            @Override
            public Thread newThread(Runnable job) {
                // every thread of the pool (acceptor, selectors, requests) takes the API's filter first
                return super.newThread(() -> {
                    Seccomp.join(Seccomp.ThreadKind.API);
                    job.run();
                });
            }
        };
        threads.setName("api");
        threads.setDaemon(true);
        // No buffer pool: every connection gets buffers of its own, and a released buffer is garbage, never
        // another connection's. Jetty's HttpConnection (12.1.12; 12.1.14 does the same) can run two threads in
        // one connection's onFillable after a malformed request, most readily one that follows a complete
        // request in the same read: the parsing thread goes on while the 400 it handed to another thread
        // completes and resumes the connection on a third. Both use the connection's request buffer; one
        // releases it while the other still fills it, or both release it. From a pool, that buffer was by
        // then a new connection's request buffer (a correct request answered "400 Illegal character", or
        // closed unanswered) or its response header buffer (a 200 sent as its body alone): issue 16, found by
        // ApiServerFuzzTest. A control API's few requests need no pooling. Heap buffers: unpooled direct ones
        // would each hold native memory until the garbage collector frees it.
        Server server = new Server(threads, null, ByteBufferPool.NON_POOLING);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);
        http.setUseInputDirectByteBuffers(false);
        http.setUseOutputDirectByteBuffers(false);
        ApiConnector connector = new ApiConnector(server, bound == null, new HttpConnectionFactory(http));
        if (bound != null) {
            connector.setUnixDomainPath(bound);
        }
        connector.setIdleTimeout(IDLE_TIMEOUT_MILLIS);
        server.addConnector(connector);
        // close() lets requests in flight finish (vmm.shutdown's own 204 among them: the process closes
        // the server as soon as that request has signalled) and refuses new ones with 503
        server.setHandler(new GracefulHandler(handler));
        server.setStopTimeout(STOP_TIMEOUT_MILLIS);
        server.setStopAtShutdown(false);
        return server;
    }

    private static boolean isSocket(Path p) throws IOException {
        Object mode = Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return mode instanceof Integer m && (m & 0170000) == 0140000;
    }

    private static void stopQuietly(Server server) {
        try {
            server.stop();
        } catch (Exception ignored) {
            // failing to start; the original error is what the user needs
        }
    }

    /** The socket's path; null for a socket handed down by a supervisor. */
    public Path socket() {
        return socket;
    }

    /** The pool the connections take their request and response buffers from. */
    ByteBufferPool bufferPool() {
        return connector.getByteBufferPool();
    }

    /** How many connections are open (at most {@link ApiConnector#MAX_CONNECTIONS}, but for a moment). */
    int openConnections() {
        return connector.openConnections();
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "stopping the REST API failed: {0}", e.toString());
        }
        if (socket == null) {
            return;
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "removing {0} failed: {1}", socket, e.toString());
        }
    }
}
