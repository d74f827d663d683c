package dev.nimbus.vmm.api;

import dev.nimbus.host.Landlock;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.IdleTimeout;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Comparator;

/**
 * The REST API's Unix-domain connector, with a cap on open connections: when a new connection would make more
 * than {@link #MAX_CONNECTIONS}, the connection that has been idle longest is closed, so a client flooding
 * the socket with connections it does not use cannot shut a new client out (its connection is the newest, the
 * last to go), and the server never holds more than the cap for longer than it takes to close one. Its threads
 * join the file sandbox at their next unit of work (see {@link Landlock#joinEnforced()}).
 */
final class ApiConnector extends UnixDomainServerConnector {
    private static final System.Logger LOG = System.getLogger(ApiConnector.class.getName());
    /** The most connections the API holds open at once (a client needs one; {@code nimbus-remote} one per command). */
    static final int MAX_CONNECTIONS = 64;

    /** Where a socket handed down by a supervisor is named, so that stopping removes no file of its. */
    private static final Path NO_FILE = Path.of("/proc/self/nimbus-inherited-api-socket");
    private final boolean inherited;

    ApiConnector(Server server, boolean inherited, ConnectionFactory... factories) {
        super(server, 1, 1, factories);
        this.inherited = inherited;
        setInheritChannel(inherited);
    }

    @Override
    public Path getUnixDomainPath() {
        // Jetty removes this path when it stops: for a socket it did not bind, one that cannot exist
        return inherited ? NO_FILE : super.getUnixDomainPath();
    }

    @Override
    protected void configure(SocketChannel channel) throws IOException {
        Landlock.joinEnforced(); // the acceptor thread
        super.configure(channel);
    }

    @Override
    protected void onEndPointOpened(EndPoint endPoint) {
        Landlock.joinEnforced(); // a selector thread
        super.onEndPointOpened(endPoint);
        int open = 0;
        for (EndPoint e : getConnectedEndPoints()) {
            if (e.isOpen()) {
                open++;
            }
        }
        for (; open > MAX_CONNECTIONS; open--) {
            EndPoint idlest = getConnectedEndPoints().stream().filter(e -> e != endPoint && e.isOpen())
                    .max(Comparator.comparingLong(ApiConnector::idleFor)).orElse(null);
            if (idlest == null) {
                break;
            }
            LOG.log(Level.DEBUG, "REST API: {0} connections, closing the one idle for {1} ms", open, idleFor(idlest));
            idlest.close();
        }
    }

    private static long idleFor(EndPoint e) {
        return e instanceof IdleTimeout t ? t.getIdleFor() : System.currentTimeMillis() - e.getCreatedTimeStamp();
    }

    /** How many connections are open now. */
    int openConnections() {
        return (int) getConnectedEndPoints().stream().filter(EndPoint::isOpen).count();
    }
}
