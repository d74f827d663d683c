package dev.nimbus.host;

import java.io.IOException;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;

/**
 * A listening Unix socket a supervisor made and handed down as a file descriptor ({@code --api-socket fd=N}),
 * as a {@link ServerSocketChannel}. The JDK makes a channel of an inherited socket only for descriptor 0
 * ({@link System#inheritedChannel()}, which works on a duplicate of 0); so for a moment descriptor 0 is made a
 * copy of N, the channel taken, and 0 put back as it was.
 */
public final class InheritedSocket {
    private InheritedSocket() {}

    /** What keeps {@code fd} from being served on: not open, not a socket, not a Unix stream socket, not listening; or null. */
    public static String problem(int fd) {
        if (fd < 0) {
            return fd + " is not a file descriptor";
        }
        if (LibC.fcntl(fd, LibC.F_GETFD, 0) < 0) {
            return fd + " is not an open file descriptor";
        }
        int type = LibC.getsockoptInt(fd, LibC.SOL_SOCKET, LibC.SO_TYPE);
        if (type == -Errno.ENOTSOCK) {
            return fd + " is not a socket";
        }
        if (type < 0) {
            return fd + ": getsockopt(SO_TYPE) failed: " + Errno.describe(-type);
        }
        if (LibC.getsockoptInt(fd, LibC.SOL_SOCKET, LibC.SO_DOMAIN) != LibC.AF_UNIX || type != LibC.SOCK_STREAM) {
            return fd + " is not a Unix stream socket";
        }
        if (LibC.getsockoptInt(fd, LibC.SOL_SOCKET, LibC.SO_ACCEPTCONN) != 1) {
            return fd + " is not listening (bind and listen before handing it down)";
        }
        return null;
    }

    /**
     * The listening Unix socket at {@code fd} as a channel; {@code fd} itself is closed (the channel holds a
     * copy). Call once per process, before anything else asks for {@link System#inheritedChannel()} and while
     * no other thread reads standard input.
     */
    public static synchronized ServerSocketChannel adopt(int fd) throws IOException {
        String problem = problem(fd);
        if (problem != null) {
            throw new IOException(problem);
        }
        boolean stdinOpen = LibC.fcntl(0, LibC.F_GETFD, 0) >= 0;
        int saved = stdinOpen ? LibC.dup(0, "dup(0)") : -1;
        Channel channel;
        try {
            LibC.dup2(fd, 0, "dup2(" + fd + ", 0)");
            channel = System.inheritedChannel();
        } finally {
            if (saved >= 0) {
                LibC.dup2(saved, 0, "dup2(stdin)");
                LibC.close(saved);
            } else {
                LibC.close(0);
            }
        }
        if (!(channel instanceof ServerSocketChannel server)) {
            throw new IOException(fd + ": the JDK did not take it as a listening socket (System.inheritedChannel() gave "
                    + channel + "; was it asked before?)");
        }
        if (fd != 0) {
            LibC.close(fd);
        }
        return server;
    }
}
