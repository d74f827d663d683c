package dev.nimbus.vmm.api;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --api-socket fd=N} end to end: a supervisor (python3, which can hand a descriptor down across exec)
 * binds and listens on a Unix socket, then execs the VMM with it as descriptor 5; a client pings through the
 * socket's path, shuts the VMM down, and the supervisor's socket file is left where it was.
 */
class ApiSocketFdTest {
    @TempDir
    Path dir;

    @Test
    void theVmmServesOnASocketItWasHandedAsADescriptor() throws Exception {
        HostTools.ensurePackages("python3-minimal");
        Path sock = dir.resolve("sup.sock");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String supervisor = """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.bind(sys.argv[1])
                s.listen(16)
                os.dup2(s.fileno(), 5)  # inheritable
                os.execv(sys.argv[2], sys.argv[2:])
                """;
        Process vmm = new ProcessBuilder("/usr/bin/python3", "-c", supervisor, sock.toString(), javaBin,
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), "dev.nimbus.vmm.Main",
                "--api-socket", "fd=5").redirectErrorStream(true).redirectOutput(dir.resolve("vmm.log").toFile()).start();
        try {
            String ping = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && vmm.isAlive()) {
                try {
                    ping = request(sock, "GET", "vmm.ping");
                    break;
                } catch (IOException notYet) {
                    Thread.sleep(100);
                }
            }
            assertThat(ping).as("vmm log: %s", Files.readString(dir.resolve("vmm.log"))).startsWith("HTTP/1.1 200");
            assertThat(ping).contains("\"pid\":" + vmm.pid());
            assertThat(request(sock, "PUT", "vmm.shutdown")).startsWith("HTTP/1.1 200");
            assertThat(vmm.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(vmm.exitValue()).as(Files.readString(dir.resolve("vmm.log"))).isZero();
            assertThat(sock).as("the supervisor's socket file is its own").exists();
            assertThat(Files.readString(dir.resolve("vmm.log"))).doesNotContain("stopping the REST API failed");
        } finally {
            vmm.destroy();
            vmm.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static String request(Path sock, String method, String endpoint) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap((method + " /api/v1/" + endpoint + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            var all = new java.io.ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(4096);
            while (ch.read(in) >= 0) {
                all.write(in.array(), 0, in.position());
                in.clear();
            }
            return all.toString(StandardCharsets.UTF_8);
        }
    }
}
