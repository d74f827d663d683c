package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real guest driven only through the REST API, as an operator's tools drive it: {@code nimbus} starts
 * with {@code --api-socket} and no payload, and everything after that goes through the socket with the
 * {@code nimbus-remote} launcher and with {@code curl --unix-socket}, taking turns. The guest
 * ({@code conformance-tests/l1/guest/api-script}) prints a tick every 100 ms on its serial port (a file
 * here) and shuts down cleanly on the ACPI power button.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class ApiEndToEndTest {
    /** Guards against a hung guest; not a timing check (everything under TCG is slow). */
    private static final long BOOT_LIMIT_MINUTES = 8;
    private static final Pattern STATE = Pattern.compile("\"state\"\\s*:\\s*\"([A-Za-z]+)\"");
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static GuestImages images;

    @TempDir
    Path dir;
    private Path socket;
    private Path serial;
    private final List<String> log = new ArrayList<>();

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
    }

    /** A command's exit status and what it printed (stdout and stderr). */
    private record Result(int exit, String output) {}

    /** An HTTP answer: its status code and body. */
    private record Http(int status, String body) {}

    private Result run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(command + " did not finish in 2 minutes");
        }
        Result r = new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        log.add("$ " + String.join(" ", command) + "  -> " + r.exit() + "\n" + r.output().strip());
        return r;
    }

    /** {@code ./nimbus-remote --api-socket SOCKET args...}, which must succeed. */
    private String remote(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ROOT.resolve("nimbus-remote").toString(), "--api-socket", socket.toString()));
        command.addAll(List.of(args));
        Result r = run(command);
        assertThat(r.exit()).as(transcript()).isZero();
        return r.output();
    }

    /** {@code curl --unix-socket SOCKET -X METHOD http://localhost/api/v1/ENDPOINT}: the status code and the body. */
    private Http curl(String method, String endpoint, Path body) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--unix-socket", socket.toString(), "-X", method,
                "-w", "\n%{http_code}"));
        if (body != null) {
            command.addAll(List.of("-H", "Content-Type: application/json", "--data-binary", "@" + body));
        }
        command.add("http://localhost/api/v1/" + endpoint);
        Result r = run(command);
        assertThat(r.exit()).as(transcript()).isZero();
        String out = r.output().stripTrailing();
        int cut = out.lastIndexOf('\n');
        return new Http(Integer.parseInt(out.substring(cut + 1).trim()), cut < 0 ? "" : out.substring(0, cut));
    }

    /** {@link #curl} with no body, which must answer {@code status}; the body. */
    private String curlOk(String method, String endpoint, int status) throws Exception {
        Http h = curl(method, endpoint, null);
        assertThat(h.status()).as(transcript()).isEqualTo(status);
        return h.body();
    }

    private static String state(String infoJson) {
        Matcher m = STATE.matcher(infoJson);
        assertThat(m.find()).as(infoJson).isTrue();
        return m.group(1);
    }

    private String serialText() throws IOException {
        return Files.exists(serial) ? Files.readString(serial, StandardCharsets.ISO_8859_1) : "";
    }

    private long ticks() throws IOException {
        return serialText().lines().filter(l -> l.startsWith("TICK ")).count();
    }

    /** Waits until the serial output satisfies {@code test}; false when time runs out first. */
    private boolean awaitSerial(Predicate<String> test, long limit, TimeUnit unit) throws Exception {
        long deadline = System.nanoTime() + unit.toNanos(limit);
        while (System.nanoTime() < deadline) {
            if (test.test(serialText())) {
                return true;
            }
            Thread.sleep(200);
        }
        return test.test(serialText());
    }

    private String transcript() {
        String tail;
        try {
            String s = serialText();
            tail = s.length() > 6000 ? s.substring(s.length() - 6000) : s;
        } catch (IOException e) {
            tail = e.toString();
        }
        return String.join("\n", log) + "\n---- serial (tail) ----\n" + tail;
    }

    @Test
    void aGuestDrivenOnlyThroughTheApiRunsPausesResumesAndShutsDownOnThePowerButton() throws Exception {
        socket = dir.resolve("nimbus.sock");
        serial = dir.resolve("serial.log");
        Path vmJson = Files.writeString(dir.resolve("vm.json"), """
                {"cpus": {"boot_vcpus": 1, "max_vcpus": 1},
                 "memory": {"size": 536870912},
                 "payload": {"kernel": "%s", "initramfs": "%s", "cmdline": "%s"},
                 "serial": {"mode": "File", "file": "%s"},
                 "console": {"mode": "Off"}}
                """.formatted(images.get("kernel.vmlinux"), images.get("initramfs.api"), images.cmdline(), serial));

        try (NimbusProcess nimbus = NimbusProcess.start("--api-socket", "path=" + socket)) {
            for (int i = 0; i < 600 && !Files.exists(socket); i++) {
                Thread.sleep(100);
            }
            assertThat(socket).as(nimbus.transcript()).exists();

            assertThat(remote("ping")).contains("\"version\"");
            assertThat(curl("GET", "vm.info", null).status()).as("no VM yet").isEqualTo(404);

            remote("create", vmJson.toString());
            assertThat(state(curlOk("GET", "vm.info", 200))).isEqualTo("Created");
            curlOk("PUT", "vm.boot", 204);
            assertThat(state(remote("info"))).isEqualTo("Running");
            assertThat(awaitSerial(s -> s.lines().filter(l -> l.startsWith("TICK ")).count() >= 5, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as("the guest ticks; %s", transcript()).isTrue();
            assertThat(serialText()).as("the kernel found the power button").contains("POWER-BUTTON-DEVICE=yes");
            assertThat(serialText().lines().filter(l -> l.startsWith("KERNEL: ")))
                    .as("the kernel's ACPI messages").anyMatch(l -> l.contains("Power Button"))
                    .noneMatch(l -> l.contains("ACPI Error") || l.contains("ACPI BIOS Error")
                            || l.contains("cannot locate _EVT"));

            // pause: no byte reaches the serial port while the vCPUs are parked
            remote("pause");
            assertThat(state(curlOk("GET", "vm.info", 200))).isEqualTo("Paused");
            Thread.sleep(500); // the console's 20 ms flusher
            long pausedSize = Files.size(serial);
            long pausedTicks = ticks();
            Thread.sleep(3000); // 30 ticks' worth
            assertThat(Files.size(serial)).as("serial output while paused; %s", transcript()).isEqualTo(pausedSize);
            assertThat(state(remote("info"))).isEqualTo("Paused");

            curlOk("PUT", "vm.resume", 204);
            assertThat(state(remote("info"))).isEqualTo("Running");
            assertThat(awaitSerial(s -> s.lines().filter(l -> l.startsWith("TICK ")).count() >= pausedTicks + 5, 3, TimeUnit.MINUTES))
                    .as("ticks after the resume; %s", transcript()).isTrue();

            // counters: the guest has been writing to its UART all along
            Pattern serialWrites = Pattern.compile("\"serial 16550A\"\\s*:\\s*\\{[^}]*\"writes\"\\s*:\\s*([0-9]+)");
            for (String counters : List.of(remote("counters"), curlOk("GET", "vm.counters", 200))) {
                Matcher m = serialWrites.matcher(counters);
                assertThat(m.find()).as(counters).isTrue();
                assertThat(Long.parseLong(m.group(1))).as(counters).isGreaterThan(pausedSize);
            }

            // the power button: the guest's own shutdown runs, then it powers off and the VM is Shutdown
            curlOk("PUT", "vm.power-button", 204);
            assertThat(awaitSerial(s -> s.contains("CLEAN-SHUTDOWN"), 3, TimeUnit.MINUTES)).as(transcript()).isTrue();
            String finalState = "";
            for (int i = 0; i < 600 && !finalState.equals("Shutdown"); i++) {
                finalState = state(remote("info"));
                if (!finalState.equals("Shutdown")) {
                    Thread.sleep(200);
                }
            }
            assertThat(finalState).as(transcript()).isEqualTo("Shutdown");
            assertThat(serialText()).as("the handler ran in order").containsSubsequence("POWER-BUTTON-PRESSED", "CLEAN-SHUTDOWN");
            assertThat(state(curlOk("GET", "vm.info", 200))).isEqualTo("Shutdown");
            assertThat(curl("PUT", "vm.power-button", null).status()).as("no button to press on a VM that is off").isEqualTo(500);

            remote("shutdown-vmm");
            int exit = nimbus.awaitExit(2, TimeUnit.MINUTES);
            assertThat(exit).as("nimbus after vmm.shutdown; %s%n---- nimbus ----%n%s", transcript(), nimbus.transcript()).isZero();
            assertThat(socket).as("the socket is removed").doesNotExist();
        }
    }
}
