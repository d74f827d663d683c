package dev.nimbus.conformance.boot;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The host's end of the {@code net} test of {@code conformance-tests/l1/guest/e2e-script}: the guest is
 * 192.168.249.2 on a virtio-net whose tap Nimbus creates and gives 192.168.249.1/24, inside the L1 guest,
 * so no traffic leaves it. Bytes go both ways over TCP and are compared by SHA-256 on both ends.
 */
final class E2eNetwork {
    private E2eNetwork() {}

    static final String HOST_IP = "192.168.249.1";
    static final String GUEST_IP = "192.168.249.2";
    /** The port the guest listens on for the host's bytes. */
    static final int GUEST_PORT = 5000;
    /** The port the host listens on for the guest's bytes. */
    static final int HOST_PORT = 5001;
    /** What the guest sends: 64 MiB (fixed in the guest's script). */
    static final int GUEST_SENDS = 64 << 20;

    /** A step that may fail, such as typing on the guest's console. */
    interface Action {
        void run() throws Exception;
    }

    /** How long the host's stream to the guest may make no progress before the test calls it stalled. */
    static final long STALL_SECONDS = 120;

    /**
     * Connects to the guest's listener (retrying while it starts) and sends {@code bytes} random bytes; their
     * SHA-256. A socket write has no timeout of its own, so a watchdog closes the socket when no chunk has gone
     * out for {@link #STALL_SECONDS}: a stalled guest receive path fails the test, saying how far it got,
     * instead of hanging the whole L1 run.
     */
    static byte[] sendToGuest(int bytes) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        Random random = new Random(42);
        byte[] chunk = new byte[1 << 16];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(GUEST_IP, GUEST_PORT), 5000);
                OutputStream out = s.getOutputStream();
                java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
                java.util.concurrent.atomic.AtomicBoolean stalled = new java.util.concurrent.atomic.AtomicBoolean();
                Thread watchdog = Thread.ofPlatform().daemon().start(() -> {
                    long last = -1;
                    try {
                        while (true) {
                            Thread.sleep(TimeUnit.SECONDS.toMillis(STALL_SECONDS));
                            long now = sent.get();
                            if (now == last) {
                                stalled.set(true);
                                s.close();
                                return;
                            }
                            last = now;
                        }
                    } catch (InterruptedException | java.io.IOException e) {
                        // the transfer ended
                    }
                });
                try {
                    for (int left = bytes; left > 0; left -= chunk.length) {
                        random.nextBytes(chunk);
                        int n = Math.min(left, chunk.length);
                        sha.update(chunk, 0, n);
                        out.write(chunk, 0, n);
                        sent.addAndGet(n);
                    }
                } catch (java.io.IOException e) {
                    if (stalled.get()) {
                        throw new AssertionError("the host's TCP stream to the guest stalled: " + sent.get() + " of " + bytes
                                + " bytes written, then nothing for " + STALL_SECONDS + " s (the guest's virtio-net receive path stopped)", e);
                    }
                    throw e;
                } finally {
                    watchdog.interrupt();
                }
                return sha.digest();
            } catch (ConnectException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    /** Listens on {@link #HOST_IP}:{@link #HOST_PORT}, runs {@code go} (which tells the guest to connect), reads {@code bytes}; their SHA-256. */
    static byte[] receiveFromGuest(int bytes, Action go) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(HOST_IP, HOST_PORT));
            server.setSoTimeout((int) TimeUnit.MINUTES.toMillis(2));
            go.run();
            try (Socket s = server.accept()) {
                s.setSoTimeout((int) TimeUnit.MINUTES.toMillis(2));
                InputStream in = s.getInputStream();
                byte[] buffer = new byte[1 << 16];
                int total = 0;
                while (total < bytes) {
                    int n = in.read(buffer, 0, Math.min(buffer.length, bytes - total));
                    if (n < 0) {
                        break;
                    }
                    sha.update(buffer, 0, n);
                    total += n;
                }
                assertThat(total).as("bytes the guest sent").isEqualTo(bytes);
            }
        }
        return sha.digest();
    }
}
