package dev.nimbus.vmm.api;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.vmm.control.ControlException;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.machine.MachineBuilder;
import dev.nimbus.vmm.machine.ScriptedBackend;
import dev.nimbus.vmm.machine.ScriptedPlatform;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the REST layer: the fuzzer's bytes go as they are onto a fresh connection to the API
 * server (Jetty 12 on a Unix socket, started once per JVM with the real {@link ApiHandler}), the client
 * then shuts its side down and reads whatever comes back. Seeds: requests Cloud Hypervisor's clients send
 * (ping, vm.create with a VmConfig, vm.info, pipelined requests, chunked bodies).
 *
 * <p>The VM controller behind it refuses to build a machine (its device-manager provider fails), so no
 * input, however valid, makes the test allocate guest memory or open host files; everything up to that
 * (parsing, routing, the VmConfig checks, the state machine) is the real code.
 *
 * <p>Each input starts without a VM (the one an input created is deleted after it).
 *
 * <p>Invariants: the server answers or closes within 10 s; every response it sends starts with a
 * well-formed {@code HTTP/1.1 NNN reason} status line whose code is 2xx or 4xx (or 505, Jetty's answer to an unknown HTTP version), or 500 only as Cloud
 * Hypervisor's error for a request the VM's state refuses (a JSON array of messages starting with
 * "Error from API"), never the handler's "internal error" (an exception that escaped it); and afterwards
 * the server still answers a correct {@code GET /api/v1/vmm.ping} with 200.
 */
class ApiServerFuzzTest {
    static final Path DIR;
    static final Path SOCKET;
    static final VmController CONTROLLER;
    static final ApiServer SERVER;
    static final Logger QUIET = Logger.getLogger("dev.nimbus");
    static final Logger JETTY = Logger.getLogger("org.eclipse.jetty");
    static final Pattern STATUS_LINE = Pattern.compile("HTTP/1\\.1 (\\d{3}) [^\\r\\n]*\\r\\n");
    static final Pattern CONTENT_LENGTH = Pattern.compile("(?i)\\r\\ncontent-length: *(\\d+)");
    static final byte[] PING = "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII);

    static {
        try {
            DIR = Files.createTempDirectory("nimbus-api-fuzz");
            SOCKET = DIR.resolve("api.sock");
            CONTROLLER = new VmController(new MachineBuilder(new ScriptedBackend(), new ScriptedPlatform(), () -> {
                throw new IllegalStateException("the REST fuzz target builds no machine");
            }));
            SERVER = ApiServer.start(SOCKET, new ApiHandler(CONTROLLER));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            SERVER.close();
            CONTROLLER.close();
            try {
                Files.deleteIfExists(SOCKET);
                Files.deleteIfExists(DIR);
            } catch (IOException ignored) {
                // a temporary directory left behind
            }
        }));
    }

    @FuzzTest(maxDuration = "30s")
    void anyBytesGetAWellFormedAnswerAndTheServerGoesOn(byte[] request) throws Exception {
        // the handler logs what it refuses, Jetty what it cannot parse: off for the input, as it was after
        // (the other tests of this JVM read the log)
        Level nimbus = QUIET.getLevel();
        Level jetty = JETTY.getLevel();
        QUIET.setLevel(Level.OFF);
        JETTY.setLevel(Level.OFF);
        try {
            exchangeAndCheck(request);
        } finally {
            QUIET.setLevel(nimbus);
            JETTY.setLevel(jetty);
        }
    }

    static void exchangeAndCheck(byte[] request) throws Exception {
        String answer = exchange(request);
        int at = 0;
        while (at < answer.length()) {
            Matcher status = STATUS_LINE.matcher(answer).region(at, answer.length());
            assertThat(status.lookingAt()).as("a well-formed status line at %d of %s", at, answer).isTrue();
            int code = Integer.parseInt(status.group(1));
            int headEnd = answer.indexOf("\r\n\r\n", at);
            assertThat(headEnd).as("the end of the head of the response at %d of %s", at, answer).isPositive();
            Matcher length = CONTENT_LENGTH.matcher(answer.substring(at, headEnd));
            int bodyStart = headEnd + 4;
            int bodyEnd;
            if (code == 204 || code == 304 || answer.startsWith("HTTP/1.1 ", bodyStart)) {
                bodyEnd = bodyStart; // no body (or a HEAD request's answer, which has its length but not its body)
            } else if (length.find()) {
                bodyEnd = bodyStart + Integer.parseInt(length.group(1));
                assertThat(bodyEnd).as("Content-Length of the response at %d of %s", at, answer).isLessThanOrEqualTo(answer.length());
            } else {
                bodyEnd = answer.length();
            }
            String body = answer.substring(bodyStart, bodyEnd);
            if (code == 500) {
                assertThat(body).as("a 500's body").startsWith("[\"Error from API\"").doesNotContain("internal error");
            } else if (code != 505) { // 505: Jetty's answer to a version other than HTTP/1.0 and 1.1
                assertThat(code / 100).as("status %d in %s", code, answer).isIn(2, 4);
            }
            at = bodyEnd;
        }
        String ping = exchange(PING);
        assertThat(ping).as("vmm.ping after the fuzzer's request").startsWith("HTTP/1.1 200 ");
        try {
            CONTROLLER.delete(); // each input starts without a VM
        } catch (ControlException noVm) {
            // there was none
        }
    }

    /** Sends {@code bytes} on a fresh connection, shuts the sending side, and reads until the server closes. */
    static String exchange(byte[] bytes) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
             Selector selector = Selector.open()) {
            ch.connect(UnixDomainSocketAddress.of(SOCKET));
            ByteBuffer out = ByteBuffer.wrap(bytes);
            try {
                while (out.hasRemaining()) {
                    ch.write(out);
                }
                ch.shutdownOutput();
            } catch (IOException e) {
                // the server answered and closed before taking everything: read what it said
            }
            ch.configureBlocking(false);
            ch.register(selector, SelectionKey.OP_READ);
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(8192);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                assertThat(left).as("the server answers or closes within 10 s; so far: %s", all).isPositive();
                selector.select(left);
                selector.selectedKeys().clear();
                int n;
                try {
                    n = ch.read(in.clear());
                } catch (IOException e) {
                    break; // reset after the answer
                }
                if (n < 0) {
                    break;
                }
                all.write(in.array(), 0, n);
            }
            return all.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
