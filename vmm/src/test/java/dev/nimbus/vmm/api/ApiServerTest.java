package dev.nimbus.vmm.api;

import dev.nimbus.vmm.machine.TestMachines;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.machine.MachineBuilder;
import dev.nimbus.vmm.machine.ScriptedBackend;
import dev.nimbus.vmm.machine.ScriptedPlatform;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The REST API over its Unix socket, spoken to with raw HTTP/1.1 so malformed requests can be sent too.
 * The VM side is a scripted backend: no KVM needed.
 */
class ApiServerTest {
    @TempDir
    Path dir;
    private final ScriptedBackend backend = new ScriptedBackend()
            .thenVm(() -> new ScriptedBackend.Out(ScriptedPlatform.COM1, 1, 'x'));
    private VmController controller;
    private ApiServer server;
    private Path socket;

    @BeforeEach
    void start() throws IOException {
        controller = new VmController(TestMachines.builder(backend, new ScriptedPlatform()));
        socket = dir.resolve("api.sock");
        server = ApiServer.start(socket, new ApiHandler(controller));
    }

    @AfterEach
    void stop() {
        server.close();
        controller.close();
    }

    /** A response: status code and body. */
    record Answer(int status, String body) {
        /** An error body's messages: Cloud Hypervisor's JSON array of strings, general to specific. */
        java.util.List<String> chain() {
            try {
                var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body);
                assertThat(node.isArray()).as("an error body is a JSON array: %s", body).isTrue();
                java.util.List<String> out = new java.util.ArrayList<>();
                node.forEach(n -> out.add(n.textValue()));
                return out;
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }

        /** The most specific message of an error body. */
        String message() {
            return chain().getLast();
        }
    }

    /** Sends {@code raw} bytes as they are and reads the answer until the server closes the connection. */
    private Answer send(byte[] raw) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer out = ByteBuffer.wrap(raw);
            while (out.hasRemaining()) {
                try {
                    ch.write(out);
                } catch (IOException e) {
                    break; // the server may answer and close before taking a huge body; read what it said
                }
            }
            var all = new java.io.ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(8192);
            try {
                while (ch.read(in) >= 0) {
                    all.write(in.array(), 0, in.position());
                    in.clear();
                }
            } catch (IOException e) {
                // a reset after the answer: keep what arrived
            }
            String text = all.toString(StandardCharsets.UTF_8);
            if (text.isEmpty()) {
                return new Answer(-1, "");
            }
            int status = Integer.parseInt(text.substring(9, 12));
            int bodyAt = text.indexOf("\r\n\r\n");
            return new Answer(status, bodyAt < 0 ? "" : text.substring(bodyAt + 4));
        }
    }

    private Answer request(String method, String endpoint, String body) throws IOException {
        byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        String head = method + " /api/v1/" + endpoint + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + (body == null ? "" : "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\n") + "\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + b.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        Answer a = send(all);
        // every answer of these tests is one the API's OpenAPI document promises
        OpenApiDocument.check(method, endpoint, a.status(), a.body());
        return a;
    }

    private String vmJson() throws IOException {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return "{\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1},\"memory\":{\"size\":33554432},"
                + "\"payload\":{\"kernel\":\"" + kernel + "\",\"cmdline\":\"console=ttyS0\"},"
                + "\"serial\":{\"mode\":\"File\",\"file\":\"" + dir.resolve("serial.log") + "\"},\"console\":{\"mode\":\"Off\"}}";
    }

    /** Waits (up to 10 s) until the guest's serial output is {@code text}: the scripted writes have run. */
    private void awaitSerial(String text) throws Exception {
        Path log = dir.resolve("serial.log");
        for (int i = 0; i < 1000; i++) {
            if (Files.exists(log) && Files.readString(log).equals(text)) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("serial output never became '" + text + "'");
    }

    private void assertStillServing() throws IOException {
        Answer ping = request("GET", "vmm.ping", null);
        assertThat(ping.status()).isEqualTo(200);
        assertThat(ping.body()).contains("\"version\"");
    }

    @Test
    void pingAnswersWithTheVersionAndPid() throws IOException {
        Answer a = request("GET", "vmm.ping", null);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.body()).contains("\"pid\":" + ProcessHandle.current().pid(), "\"build_version\"");
    }

    @Test
    void theSocketIsOwnerOnly() throws IOException {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
    }

    /**
     * vm.snapshot and vm.restore: their bodies' fields named in refusals, 405 for a snapshot of a VM that is not
     * paused, and a backend that cannot save (the scripted one, as MSHV today) a 500 that leaves no snapshot.
     */
    @Test
    void snapshotAndRestoreAnswerWithCloudHypervisorsStatusesAndNameTheirFields() throws Exception {
        Path snap = dir.resolve("snap");
        String body = "{\"destination_url\":\"" + snap.toUri() + "\"}";
        Answer none = request("PUT", "vm.snapshot", body);
        assertThat(none.status()).isEqualTo(500);
        assertThat(none.message()).isEqualTo("vm.snapshot: no VM has been created (vm.create first)");

        assertThat(request("PUT", "vm.create", vmJson()).status()).isEqualTo(204);
        Answer created = request("PUT", "vm.snapshot", body);
        assertThat(created.status()).as("Cloud Hypervisor's 405 for a VM that is not paused").isEqualTo(405);
        assertThat(created.chain()).containsExactly("Error from API", "The VM could not be snapshotted",
                "vm.snapshot: the VM is Created, not Paused");
        Answer http = request("PUT", "vm.snapshot", "{\"destination_url\":\"http://example.com/s\"}");
        assertThat(http.status()).isEqualTo(400);
        assertThat(http.message()).startsWith("vm.snapshot: destination_url: 'http://example.com/s' is not a file:// URL");
        Answer unknown = request("PUT", "vm.snapshot", "{\"destination_url\":\"" + snap.toUri() + "\",\"bogus\":1}");
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.message()).isEqualTo("vm.snapshot: bogus: unknown field");

        assertThat(request("PUT", "vm.boot", null).status()).isEqualTo(204);
        awaitSerial("x");
        assertThat(request("PUT", "vm.snapshot", body).status()).as("running").isEqualTo(405);
        assertThat(request("PUT", "vm.pause", null).status()).isEqualTo(204);
        Answer unsaved = request("PUT", "vm.snapshot", body);
        assertThat(unsaved.status()).isEqualTo(500);
        assertThat(unsaved.message()).startsWith("vm.snapshot: ").contains("cannot be saved");
        assertThat(snap.resolve("snapshot.json")).as("no manifest: not a snapshot").doesNotExist();
        assertThat(request("GET", "vm.info", null).body()).as("still paused, still there").contains("\"state\":\"Paused\"");

        Answer again = request("PUT", "vm.restore", "{\"source_url\":\"" + snap.toUri() + "\"}");
        assertThat(again.status()).as("a VM exists").isEqualTo(500);
        assertThat(again.message()).isEqualTo("vm.restore: a VM is already created (vm.delete it first)");
        assertThat(request("PUT", "vm.delete", null).status()).isEqualTo(204);
        Answer missing = request("PUT", "vm.restore", "{\"source_url\":\"" + snap.toUri() + "\",\"prefault\":true}");
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.chain()).containsExactly("Error from API", "The VM could not be restored",
                "vm.restore: source_url: " + snap + " holds no snapshot (no snapshot.json)");
        Answer badType = request("PUT", "vm.restore", "{\"source_url\":\"" + snap.toUri() + "\",\"prefault\":\"yes\"}");
        assertThat(badType.status()).isEqualTo(400);
        assertThat(badType.message()).startsWith("vm.restore: prefault: expected a boolean");
        assertThat(request("GET", "vm.info", null).status()).as("no VM after a refused restore").isEqualTo(404);
    }

    @Test
    void theWholeLifecycleRunsThroughTheApi() throws Exception {
        assertThat(request("PUT", "vm.create", vmJson()).status()).isEqualTo(204);
        Answer created = request("GET", "vm.info", null);
        assertThat(created.body()).contains("\"state\":\"Created\"", "\"boot_vcpus\":1", "\"size\":33554432", "\"cmdline\":\"console=ttyS0\"");
        assertThat(request("PUT", "vm.boot", null).status()).isEqualTo(204);
        assertThat(request("GET", "vm.info", null).body()).contains("\"state\":\"Running\"");
        awaitSerial("x");
        assertThat(request("PUT", "vm.pause", null).status()).isEqualTo(204);
        assertThat(request("GET", "vm.info", null).body()).contains("\"state\":\"Paused\"");
        Answer counters = request("GET", "vm.counters", null);
        assertThat(counters.status()).isEqualTo(200);
        assertThat(counters.body()).contains("\"serial 16550A\":{\"reads\":0,\"writes\":1}");
        assertThat(request("PUT", "vm.resume", null).status()).isEqualTo(204);
        assertThat(request("GET", "vm.info", null).body()).contains("\"state\":\"Running\"");
        assertThat(request("PUT", "vm.reboot", null).status()).isEqualTo(204);
        assertThat(request("PUT", "vm.shutdown", null).status()).isEqualTo(204);
        assertThat(request("GET", "vm.info", null).body()).contains("\"state\":\"Shutdown\"");
        assertThat(request("PUT", "vm.delete", null).status()).isEqualTo(204);
        assertThat(request("GET", "vm.info", null).status()).isEqualTo(404);
        assertThat(backend.vms).hasSize(2).allMatch(vm -> vm.closed);
    }

    @Test
    void vmmShutdownReleasesTheProcessWaitingForIt() throws Exception {
        Answer a = request("PUT", "vmm.shutdown", null);
        assertThat(a.status()).as("Cloud Hypervisor's 200 with an empty body").isEqualTo(200);
        assertThat(a.body()).isEmpty();
        controller.awaitVmmShutdown();
    }

    @Test
    void vmmShutdownIsAnsweredEvenWhenTheProcessClosesTheServerAtOnce() throws Exception {
        // the process's main thread (Main.serve) closes the server as soon as vmm.shutdown is signalled; the
        // client must still get its 204, however the two threads are scheduled (ch-remote reports an error
        // otherwise). Twenty rounds, each a fresh server, as a client's retries would see them.
        server.close();
        controller.close();
        for (int round = 0; round < 20; round++) {
            VmController c = new VmController(TestMachines.builder(backend, new ScriptedPlatform()));
            ApiServer s = ApiServer.start(socket, new ApiHandler(c));
            Thread main = Thread.ofPlatform().start(() -> {
                try {
                    c.awaitVmmShutdown();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                s.close();
            });
            try {
                assertThat(request("PUT", "vmm.shutdown", null).status()).as("round %d", round).isEqualTo(200);
            } finally {
                main.join(10_000);
                c.close();
            }
            assertThat(main.isAlive()).isFalse();
        }
        controller = new VmController(TestMachines.builder(backend, new ScriptedPlatform()));
        server = ApiServer.start(socket, new ApiHandler(controller));
    }

    @Test
    void aSecondServerOnALiveSocketIsRefusedAsInUseAndTheFirstStillAnswers() throws Exception {
        VmController other = new VmController(TestMachines.builder(backend, new ScriptedPlatform()));
        try {
            assertThatThrownBy(() -> ApiServer.start(socket, new ApiHandler(other)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("in use");
        } finally {
            other.close();
        }
        assertThat(request("GET", "vmm.ping", null).status()).as("the first VMM still answers").isEqualTo(200);
    }

    @Test
    void aStaleSocketLeftByAVmmThatDiedIsReplaced() throws Exception {
        server.close();
        Path stale = dir.resolve("stale.sock");
        try (var ch = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(stale));   // closing leaves the file behind, as a killed VMM would
        }
        assertThat(stale).exists();
        socket = stale;
        server = ApiServer.start(stale, new ApiHandler(controller));
        assertThat(request("GET", "vmm.ping", null).status()).isEqualTo(200);
    }

    @Test
    void theSocketIsNeverWiderThanOwnerOnlyEvenUnderUmask000AndAnotherUserCannotConnect() throws Exception {
        // a separate VMM process started with umask 000; this test watches the path from before it exists
        Path sock = Files.createDirectories(dir.resolve("pub")).resolve("api.sock");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(sock.getParent(), java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process vmm = new ProcessBuilder("sh", "-c", "umask 000; exec \"$0\" --enable-native-access=ALL-UNNAMED -cp \"$1\" "
                + "dev.nimbus.vmm.Main --api-socket path=\"$2\"", javaBin, System.getProperty("java.class.path"), sock.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("vmm.log").toFile()).start();
        List<String> seen = new java.util.ArrayList<>();
        try {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && vmm.isAlive()) {
                try {
                    Object mode = Files.getAttribute(sock, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                    seen.add(Integer.toOctalString((Integer) mode & 0777));
                    if (seen.size() > 200) {
                        break;
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    Thread.onSpinWait();
                }
            }
            assertThat(seen).as("modes seen; vmm log: %s", Files.readString(dir.resolve("vmm.log"))).isNotEmpty()
                    .allMatch("600"::equals);
            // another user: nobody, through setpriv, gets EACCES on connect
            dev.nimbus.testsupport.HostTools.ensurePackages("python3-minimal");
            Process other = new ProcessBuilder("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                    "/usr/bin/python3", "-c", "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])", sock.toString())
                    .redirectErrorStream(true).start();
            String out = new String(other.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(other.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(other.exitValue()).as(out).isNotZero();
            assertThat(out).contains("PermissionError: [Errno 13] Permission denied");
        } finally {
            vmm.destroy();
            vmm.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void clientsThatStallInTheirBodiesDoNotHoldUpAnotherClientsRequest() throws Exception {
        assertThat(request("GET", "vmm.ping", null).status()).as("a first ping, before any stall (class loading, JIT)").isEqualTo(200);
        // twice as many stalled uploads as the server has threads: each sends its headers and 10 of 100 body bytes
        List<SocketChannel> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 32; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                ch.write(ByteBuffer.wrap(("PUT /api/v1/vm.create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 100\r\n\r\n{\"cpus\":").getBytes(StandardCharsets.US_ASCII)));
                stalled.add(ch);
            }
            Thread.sleep(500);   // let the server take them all in
            var ping = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return request("GET", "vmm.ping", null).status();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            // the idle timeout (30 s) is what used to free the threads; the ping is answered within a second
            assertThat(ping.get(1, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(200);
            assertThat(stalled).as("the stalled clients are still connected").allMatch(SocketChannel::isConnected);
        } finally {
            for (SocketChannel ch : stalled) {
                ch.close();
            }
        }
    }

    @Test
    void connectionsBeyondTheCapCloseTheIdlestAndANewClientIsStillAnswered() throws Exception {
        assertThat(request("GET", "vmm.ping", null).status()).isEqualTo(200);
        int cap = ApiConnector.MAX_CONNECTIONS;
        List<SocketChannel> flood = new ArrayList<>();
        try {
            for (int i = 0; i < cap + 10; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                flood.add(ch);
                Thread.sleep(2); // each a little longer idle than the next
            }
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
            while (server.openConnections() < cap && System.nanoTime() < deadline) {
                Thread.sleep(10); // until the server has taken them in
            }
            Thread.sleep(300);
            assertThat(server.openConnections()).as("connections the server holds").isLessThanOrEqualTo(cap);
            // the ones it closed read end-of-file: at least 10, old ones
            List<Integer> closed = new ArrayList<>();
            for (int i = 0; i < flood.size(); i++) {
                SocketChannel ch = flood.get(i);
                ch.configureBlocking(false);
                int n;
                try {
                    n = ch.read(ByteBuffer.allocate(1));
                } catch (IOException e) {
                    n = -1;
                }
                if (n < 0) {
                    closed.add(i);
                }
            }
            // the server orders them by when it took each in, which under load can swap neighbours: the closed
            // ones are old ones, not exactly the first ten
            assertThat(closed).hasSizeGreaterThanOrEqualTo(10).allMatch(i -> i < 20, "one of the 20 oldest")
                    .doesNotContain(flood.size() - 1);
            // a new client, with the flood still there: answered within a second
            var ping = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return request("GET", "vmm.ping", null).status();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertThat(ping.get(1, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(200);
        } finally {
            for (SocketChannel ch : flood) {
                ch.close();
            }
        }
        assertThat(request("GET", "vmm.ping", null).status()).isEqualTo(200);
    }

    @Test
    void aSerialPortOnAPtyIsReportedByVmInfoWithItsPath() throws Exception {
        String json = vmJson().replaceAll("\"serial\":\\{[^}]*\\}", "\"serial\":{\"mode\":\"Pty\"}");
        assertThat(request("PUT", "vm.create", json).status()).isEqualTo(204);
        var before = new com.fasterxml.jackson.databind.ObjectMapper().readTree(request("GET", "vm.info", null).body());
        assertThat(before.at("/config/serial/mode").asText()).isEqualTo("Pty");
        assertThat(before.at("/config/serial/file").isMissingNode()).as("no pty before boot").isTrue();
        assertThat(request("PUT", "vm.boot", null).status()).isEqualTo(204);
        Answer info = request("GET", "vm.info", null);
        var serial = new com.fasterxml.jackson.databind.ObjectMapper().readTree(info.body()).at("/config/serial");
        assertThat(serial.get("mode").asText()).isEqualTo("Pty");
        Path pty = Path.of(serial.get("file").asText());
        assertThat(pty.toString()).startsWith("/dev/pts/");
        assertThat(Files.exists(pty)).isTrue();
        // the reported config creates the same kind of VM again: a new pty, the old path ignored
        assertThat(request("PUT", "vm.delete", null).status()).isEqualTo(204);
        assertThat(request("PUT", "vm.create", info.body().substring(info.body().indexOf("{\"cpus\""),
                info.body().lastIndexOf(",\"state\""))).status()).isEqualTo(204);
    }

    @Test
    void memoryOptionsAreReportedAndWhatTheHostCannotBackIsNamedAtBoot() throws Exception {
        String json = vmJson().replace("\"memory\":{\"size\":33554432}",
                "\"memory\":{\"size\":33554432,\"hugepages\":true,\"prefault\":true,\"thp\":false}");
        assertThat(request("PUT", "vm.create", json).status()).isEqualTo(204);
        var memory = new com.fasterxml.jackson.databind.ObjectMapper().readTree(request("GET", "vm.info", null).body())
                .at("/config/memory");
        assertThat(memory.get("hugepages").asBoolean()).isTrue();
        assertThat(memory.get("prefault").asBoolean()).isTrue();
        assertThat(memory.get("thp").asBoolean()).isFalse();
        long free = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("HugePages_Free:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElse(0);
        Answer boot = request("PUT", "vm.boot", null);
        if (free >= 16) {
            assertThat(boot.status()).as(boot.body()).isEqualTo(204);
        } else {
            // no huge pages reserved on this host: the boot is refused naming the option, and nothing is left made
            assertThat(boot.status()).isEqualTo(400);
            assertThat(boot.message()).startsWith("vm.boot: memory.hugepages: this host cannot back the guest's RAM so: ");
            assertThat(backend.vms).as("no VM was created").isEmpty();
        }
    }

    @Test
    void withoutAVmTheStatusesAreCloudHypervisors() throws IOException {
        // CH: 404 where there is nothing to boot, show or reboot; 500 for the rest; deleting nothing is done
        assertThat(request("PUT", "vm.boot", null).status()).isEqualTo(404);
        assertThat(request("PUT", "vm.reboot", null).status()).isEqualTo(404);
        assertThat(request("GET", "vm.info", null).status()).isEqualTo(404);
        assertThat(request("PUT", "vm.pause", null).status()).isEqualTo(500);
        assertThat(request("PUT", "vm.resume", null).status()).isEqualTo(500);
        assertThat(request("PUT", "vm.shutdown", null).status()).isEqualTo(500);
        assertThat(request("PUT", "vm.power-button", null).status()).isEqualTo(500);
        Answer counters = request("GET", "vm.counters", null);
        assertThat(counters.status()).isEqualTo(500);
        assertThat(counters.chain()).startsWith("Error from API", "The VM info is not available");
        assertThat(request("PUT", "vm.delete", null).status()).isEqualTo(204);
    }

    @Test
    void aSecondCreateIs500() throws IOException {
        assertThat(request("PUT", "vm.create", vmJson()).status()).isEqualTo(204);
        Answer again = request("PUT", "vm.create", vmJson());
        assertThat(again.status()).isEqualTo(500);
        assertThat(again.chain()).startsWith("Error from API", "The VM could not be created");
    }

    @Test
    void infoWithoutAVmIs404() throws IOException {
        Answer a = request("GET", "vm.info", null);
        assertThat(a.status()).isEqualTo(404);
        assertThat(a.message()).isEqualTo("vm.info: no VM has been created (vm.create first)");
    }

    @Test
    void pauseBeforeBootIs500AsCloudHypervisorAnswersIt() throws IOException {
        assertThat(request("PUT", "vm.create", vmJson()).status()).isEqualTo(204);
        Answer a = request("PUT", "vm.pause", null);
        assertThat(a.status()).isEqualTo(500);
        assertThat(a.chain()).containsExactly("Error from API", "The VM could not be paused",
                "vm.pause: the VM is Created, not Running");
    }

    @Test
    void powerButtonOnARunningVmIs204AndRaisesTheButtonsInterrupt() throws IOException {
        assertThat(request("PUT", "vm.create", vmJson()).status()).isEqualTo(204);
        assertThat(request("PUT", "vm.power-button", null).status()).isEqualTo(500);
        assertThat(request("PUT", "vm.boot", null).status()).isEqualTo(204);
        Answer a = request("PUT", "vm.power-button", null);
        assertThat(a.status()).as(a.body()).isEqualTo(204);
        assertThat(backend.vms.getFirst().irqEvents).containsSubsequence(ScriptedPlatform.GED_GSI + "+", ScriptedPlatform.GED_GSI + "-");
    }

    @Test
    void cpuAndMemoryErrorsNameTheJsonFieldsNotTheOptions() throws IOException {
        Answer tooMany = request("PUT", "vm.create", vmJson().replace("\"boot_vcpus\":1,\"max_vcpus\":1", "\"boot_vcpus\":5,\"max_vcpus\":5"));
        assertThat(tooMany.message()).startsWith("vm.create: cpus.boot_vcpus: 5 is more than this host supports (4 with scripted on");
        assertThat(request("PUT", "vm.create", vmJson().replace("\"boot_vcpus\":1,\"max_vcpus\":1", "\"boot_vcpus\":0")).message())
                .isEqualTo("vm.create: cpus.boot_vcpus: 0 is out of range (1 to 255)");
        assertThat(request("PUT", "vm.create", vmJson().replace("\"boot_vcpus\":1,\"max_vcpus\":1", "\"boot_vcpus\":2,\"max_vcpus\":1")).message())
                .isEqualTo("vm.create: cpus.max_vcpus: 1 is less than the 2 boot vCPUs");
        assertThat(request("PUT", "vm.create", vmJson().replace("\"boot_vcpus\":1,\"max_vcpus\":1", "\"boot_vcpus\":1,\"max_vcpus\":2")).message())
                .isEqualTo("vm.create: cpus.max_vcpus: CPU hot-plug (more vCPUs than the boot ones) is not supported yet");
        assertThat(request("PUT", "vm.create", vmJson().replace("33554432", "1048576")).message())
                .isEqualTo("vm.create: memory.size: 1048576 bytes is too small (at least 32M)");
        assertThat(request("PUT", "vm.create", vmJson().replace("33554432", "33554433")).message())
                .isEqualTo("vm.create: memory.size: 33554433 bytes is not a multiple of 4K");
        Answer noKernel = request("PUT", "vm.create", vmJson().replace("vmlinuz", "no-such-kernel"));
        assertThat(noKernel.status()).isEqualTo(400);
        assertThat(noKernel.message()).isEqualTo("vm.create: payload.kernel: " + dir.resolve("no-such-kernel") + ": no such file");
        assertStillServing();
    }

    @Test
    void unknownEndpointIs404AndWrongMethodIs400() throws IOException {
        Answer unknown = request("GET", "vm.teleport", null);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.chain()).containsExactly("Not Found", "no such endpoint: vm.teleport");
        assertThat(send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII)).status()).isEqualTo(404);
        Answer a = request("GET", "vm.boot", null);
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.chain()).containsExactly("Bad Request", "vm.boot: expected PUT, got GET");
    }

    @Test
    void truncatedJsonIs400() throws IOException {
        String json = vmJson();
        Answer a = request("PUT", "vm.create", json.substring(0, json.length() / 2));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.message()).startsWith("vm.create: the body is not valid JSON: Unexpected end-of-input");
        assertStillServing();
    }

    @Test
    void aBodyShorterThanItsContentLengthIsRefusedAndTheServerGoesOn() throws IOException {
        String head = "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"cpus\":";
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
            // and drop the connection mid-body
        }
        assertStillServing();
        assertThat(request("GET", "vm.info", null).status()).isEqualTo(404);
    }

    @Test
    void aValueOfTheWrongTypeNamesTheField() throws IOException {
        Answer a = request("PUT", "vm.create", vmJson().replace("\"boot_vcpus\":1", "\"boot_vcpus\":\"two\""));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.message()).isEqualTo("vm.create: cpus.boot_vcpus: expected an integer, got a string");
    }

    @Test
    void anUnknownFieldIs400() throws IOException {
        Answer a = request("PUT", "vm.create", vmJson().replace("{\"cpus\"", "{\"turbo\":true,\"cpus\""));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.message()).isEqualTo("vm.create: turbo: unknown field");
    }

    @Test
    void aCloudHypervisorFieldNimbusLacksIsNotSupportedYet() throws IOException {
        Answer a = request("PUT", "vm.create", vmJson().replace("{\"cpus\"", "{\"balloon\":{\"size\":0},\"cpus\""));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.message()).isEqualTo("vm.create: balloon: {\"size\":0} is not supported yet");
    }

    @Test
    void aDeviceKeyNimbusLacksIsNamedWithItsIndex() throws IOException {
        Answer a = request("PUT", "vm.create", vmJson().replace("{\"cpus\"",
                "{\"net\":[{\"tap\":\"t0\",\"host_mac\":\"12:34:56:78:9a:bc\"}],\"cpus\""));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.message()).isEqualTo("vm.create: net[0].host_mac: \"12:34:56:78:9a:bc\" is not supported yet (the tap keeps the MAC address the kernel gave it)");
    }

    @Test
    void aCreateWithDevicesIsReportedByVmInfo() throws IOException {
        assertThat(request("PUT", "vm.create", vmJson().replace("{\"cpus\"",
                "{\"disks\":[{\"path\":\"/a.raw\",\"readonly\":true}],\"rng\":{\"src\":\"/dev/urandom\"},\"cpus\"")).status())
                .isEqualTo(204);
        assertThat(request("GET", "vm.info", null).body())
                .contains("\"disks\":[{\"path\":\"/a.raw\",\"readonly\":true,", "\"rng\":{\"src\":\"/dev/urandom\",");
    }

    @Test
    void aConfigTheHostCannotRunIs400() throws IOException {
        Answer a = request("PUT", "vm.create", vmJson().replace("\"boot_vcpus\":1,\"max_vcpus\":1", "\"boot_vcpus\":5,\"max_vcpus\":5"));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).contains("is more than this host supports");
    }

    @Test
    void aJsonArrayInsteadOfAnObjectIs400() throws IOException {
        Answer a = request("PUT", "vm.create", "[1,2,3]");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.message()).isEqualTo("vm.create: VmConfig: expected a JSON object, got an array");
    }

    @Test
    void createWithoutABodyIs400() throws IOException {
        Answer a = request("PUT", "vm.create", null);
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.chain()).containsExactly("Bad Request", "vm.create: a JSON body is required");
    }

    @Test
    void aTenMegabyteBodyIs413AndTheServerGoesOn() throws IOException {
        String huge = "{\"payload\":{\"cmdline\":\"" + "a".repeat(10 << 20) + "\"}}";
        Answer a = request("PUT", "vm.create", huge);
        assertThat(a.status()).isIn(413, -1); // -1: closed before the answer could be read
        assertStillServing();
    }

    @Test
    void aTenMegabyteChunkedBodyIs413AndTheServerGoesOn() throws IOException {
        StringBuilder req = new StringBuilder("PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n");
        String chunk = "a".repeat(65536);
        for (int i = 0; i < 160; i++) {
            req.append(Integer.toHexString(chunk.length())).append("\r\n").append(chunk).append("\r\n");
        }
        req.append("0\r\n\r\n");
        Answer a = send(req.toString().getBytes(StandardCharsets.US_ASCII));
        assertThat(a.status()).isIn(413, -1);
        assertStillServing();
    }

    @Test
    void garbageInsteadOfHttpIsRefused() throws IOException {
        // a request line without a protocol version: Jetty answers 505 HTTP Version Not Supported
        Answer a = send("HELLO THERE\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(a.status()).isIn(400, 505, -1);
        Answer noMethod = send(" /api/v1/vmm.ping HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(noMethod.status()).isIn(400, -1);
        Answer binary = send(new byte[] {0, 1, 2, (byte) 0xff, '\r', '\n', '\r', '\n'});
        assertThat(binary.status()).isIn(400, -1);
        assertStillServing();
    }

    @Test
    void aHugeHeaderIsRefused() throws IOException {
        Answer a = send(("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(100_000) + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        assertThat(a.status()).isIn(431, 400, -1);
        assertStillServing();
    }

    /**
     * Issue 16: after a malformed request that follows a complete one in the same read, Jetty can run two
     * threads in that connection's onFillable; one releases the connection's request buffer while the other
     * still fills it, or both release it. A buffer released that way must never be another connection's: the
     * fuzz target saw a correct ping on the next connection answered "400 Illegal character", unanswered, or
     * answered with its body alone when the pool had given that buffer to it.
     */
    @Test
    void aBufferOneConnectionReleasedIsNeverGivenToAnother() throws IOException {
        ByteBufferPool pool = server.bufferPool();
        for (boolean direct : new boolean[] {false, true}) {
            RetainableByteBuffer released = pool.acquire(8192, direct);
            released.release();
            RetainableByteBuffer next = pool.acquire(8192, direct);
            assertThat(next.getByteBuffer()).as("a buffer taken after another was released (direct: %s)", direct)
                    .isNotSameAs(released.getByteBuffer());
            try {
                released.release(); // the late second release
            } catch (IllegalStateException alreadyReleased) {
                // a buffer that was only ever its own says so
            }
            RetainableByteBuffer after = pool.acquire(8192, direct);
            assertThat(after.getByteBuffer()).as("a buffer taken after a second release (direct: %s)", direct)
                    .isNotSameAs(next.getByteBuffer()).isNotSameAs(released.getByteBuffer());
            next.release();
            after.release();
        }
        assertStillServing();
    }

    @Test
    void aThousandConnectionsOpenedAndDroppedLeaveTheServerServing() throws IOException {
        List<SocketChannel> open = new ArrayList<>();
        try {
            for (int i = 0; i < 1000; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                open.add(ch);
                ch.connect(UnixDomainSocketAddress.of(socket));
                if (i % 2 == 0) {
                    ch.write(ByteBuffer.wrap("PUT /api/v1/vm.cre".getBytes(StandardCharsets.US_ASCII)));
                }
            }
        } finally {
            for (SocketChannel ch : open) {
                ch.close();
            }
        }
        assertStillServing();
    }
}
