package dev.nimbus.vmm.api;

import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;

/**
 * The REST API's listener: HTTP/1.1 on a Unix domain socket (Jetty's Unix-domain connector), serving
 * {@link ApiHandler}. The socket file is made owner-only (mode 0600) as soon as it exists, and removed when
 * the server stops.
 */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ApiServer.class.getName());
    /** Threads serving requests; each request blocks its thread until the VM-control thread answers. */
    private static final int MAX_THREADS = 16;
    /** A connection that sends nothing for this long is closed. */
    private static final long IDLE_TIMEOUT_MILLIS = 30_000;
    /** How long {@link #close()} waits for requests in flight to be answered. */
    static final long STOP_TIMEOUT_MILLIS = 5_000;

    private final Server server;
    private final Path socket;

    private ApiServer(Server server, Path socket) {
        this.server = server;
        this.socket = socket;
    }

    /**
     * Starts serving {@code handler} on a new socket at {@code socket}. A leftover socket file (from a VMM
     * that did not stop cleanly) is replaced; any other file there is an error.
     */
    public static ApiServer start(Path socket, ApiHandler handler) throws IOException {
        if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            if (!isSocket(socket)) {
                throw new IOException(socket + " exists and is not a socket");
            }
            Files.delete(socket);
        }
        QueuedThreadPool threads = new QueuedThreadPool(MAX_THREADS, 2);
        threads.setName("api");
        threads.setDaemon(true);
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);
        UnixDomainServerConnector connector = new UnixDomainServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setUnixDomainPath(socket);
        connector.setIdleTimeout(IDLE_TIMEOUT_MILLIS);
        server.addConnector(connector);
        // close() lets requests in flight finish (vmm.shutdown's own 204 among them: the process closes
        // the server as soon as that request has signalled) and refuses new ones with 503
        server.setHandler(new GracefulHandler(handler));
        server.setStopTimeout(STOP_TIMEOUT_MILLIS);
        server.setStopAtShutdown(false);
        try {
            server.start();
        } catch (IOException e) {
            stopQuietly(server);
            throw e;
        } catch (Exception e) {
            stopQuietly(server);
            throw new IOException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
        try {
            Files.setPosixFilePermissions(socket, EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
        } catch (IOException | UnsupportedOperationException e) {
            stopQuietly(server);
            throw new IOException("cannot make " + socket + " owner-only: " + e.getMessage(), e);
        }
        LOG.log(Level.INFO, "REST API listening on {0}", socket);
        return new ApiServer(server, socket);
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

    /** The socket's path. */
    public Path socket() {
        return socket;
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "stopping the REST API failed: {0}", e.toString());
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "removing {0} failed: {1}", socket, e.toString());
        }
    }
}
