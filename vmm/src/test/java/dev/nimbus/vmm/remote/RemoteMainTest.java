package dev.nimbus.vmm.remote;

import dev.nimbus.vmm.machine.TestMachines;
import dev.nimbus.vmm.api.ApiHandler;
import dev.nimbus.vmm.api.ApiServer;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.machine.MachineBuilder;
import dev.nimbus.vmm.machine.ScriptedBackend;
import dev.nimbus.vmm.machine.ScriptedPlatform;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** nimbus-remote against a real API server over a scripted backend: no KVM needed. */
class RemoteMainTest {
    @TempDir
    Path dir;
    private VmController controller;
    private ApiServer server;
    private Path socket;
    private StringWriter out = new StringWriter();
    private StringWriter err = new StringWriter();

    @BeforeEach
    void start() throws IOException {
        controller = new VmController(TestMachines.builder(new ScriptedBackend(), new ScriptedPlatform()));
        socket = dir.resolve("api.sock");
        server = ApiServer.start(socket, new ApiHandler(controller));
    }

    @AfterEach
    void stop() {
        server.close();
        controller.close();
    }

    private int remote(String... args) {
        return remoteWithInput("", args);
    }

    private int remoteWithInput(String stdin, String... args) {
        out = new StringWriter();
        err = new StringWriter();
        String[] all = new String[args.length + 2];
        all[0] = "--api-socket";
        all[1] = socket.toString();
        System.arraycopy(args, 0, all, 2, args.length);
        return RemoteMain.run(all, new java.io.ByteArrayInputStream(stdin.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void createBootPauseResumeAndShutdownTheVmm() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        Path json = Files.writeString(dir.resolve("vm.json"), "{\"payload\":{\"kernel\":\"" + kernel + "\"},\"console\":{\"mode\":\"Off\"}}");
        assertThat(remote("ping")).isZero();
        assertThat(out.toString()).contains("\"version\"");
        assertThat(remote("create", json.toString())).isZero();
        assertThat(remote("boot")).isZero();
        assertThat(remote("info")).isZero();
        assertThat(out.toString()).contains("\"state\":\"Running\"");
        assertThat(remote("pause")).isZero();
        assertThat(remote("info")).isZero();
        assertThat(out.toString()).contains("\"state\":\"Paused\"");
        assertThat(remote("counters")).isZero();
        assertThat(out.toString()).contains("\"serial 16550A\"");
        assertThat(remote("resume")).isZero();
        assertThat(remote("shutdown-vmm")).isZero();
        controller.awaitVmmShutdown();
    }

    @Test
    void aRefusedRequestIsExitOneWithTheVmmsMessage() {
        assertThat(remote("boot")).isEqualTo(1);
        // ch-remote's shape: the chain of errors, from the client's down to the VMM's most specific message
        assertThat(err.toString()).isEqualTo("""
                Error: nimbus-remote exited with the following chain of errors:
                  0: http client error
                  1: Server responded with NotFound
                  2: Error from API
                  3: The VM could not boot
                  4: vm.boot: no VM has been created (vm.create first)
                """);
    }

    @Test
    void aBodyThatIsNotChsArrayIsShownAsItCame() {
        assertThat(RemoteMain.errorChain(502, "Bad Gateway\n")).containsExactly(
                "Error: nimbus-remote exited with the following chain of errors:", "  0: http client error",
                "  1: Server responded with Unknown", "  2: Bad Gateway");
        assertThat(RemoteMain.errorChain(500, "[\"Error from API\", \"The VM could not boot\"]")).endsWith(
                "  1: Server responded with InternalServerError", "  2: Error from API", "  3: The VM could not boot");
    }

    @Test
    void anUnknownCommandIsAUsageError() {
        assertThat(remote("teleport")).isEqualTo(2);
        assertThat(err.toString()).startsWith("nimbus-remote: unknown command 'teleport'");
    }

    @Test
    void createReadsStandardInputWithoutAFileOrWithADashAsChRemoteDoes() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        String json = "{\"payload\":{\"kernel\":\"" + kernel + "\"},\"console\":{\"mode\":\"Off\"}}";
        assertThat(remoteWithInput(json, "create")).as(err::toString).isZero();
        assertThat(remote("info")).isZero();
        assertThat(out.toString()).contains("\"state\":\"Created\"");
        assertThat(remote("delete")).isZero();
        assertThat(remoteWithInput(json, "create", "-")).as(err::toString).isZero();
        assertThat(remote("create", "a.json", "b.json")).isEqualTo(2);
        assertThat(err.toString()).startsWith("nimbus-remote: create: expected at most one argument");
    }

    @Test
    void aSocketNobodyListensOnIsExitOne() {
        server.close();
        assertThat(remote("ping")).isEqualTo(1);
        assertThat(err.toString()).startsWith("nimbus-remote: cannot reach the VMM at " + socket);
    }
}
