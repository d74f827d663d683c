package dev.nimbus.vmm.remote;

import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.io.Transport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.RestoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code nimbus-remote}: drives a running Nimbus through its REST API, like Cloud Hypervisor's
 * {@code ch-remote}, with its commands and its output: a response's body as it came (vm.info's and
 * vmm.ping's JSON) on standard output, nothing for a request without one, and for a refused request its chain
 * of errors on standard error. Exit codes: 0 the request succeeded, 1 the VMM refused it or could not be
 * reached, 2 bad usage. Unlike ch-remote, which exits 0 after printing a 4xx answer's body as if it were
 * output, every refusal (4xx and 5xx) is an error here.
 */
@Command(name = "nimbus-remote", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Talks to a Nimbus VMM's REST API (nimbus --api-socket path=PATH).",
        footer = {"", "Commands:", "  ping, create [vm.json|-], boot, info, counters, pause, resume, shutdown, reboot,",
                "  power-button, delete, shutdown-vmm, snapshot file:///DIR, restore source_url=file:///DIR[,prefault=on][,resume=on]",
                "", "create reads the VmConfig from standard input without a file or with -, as ch-remote does."})
public final class RemoteMain implements Callable<Integer> {
    /** Each command: its HTTP method and endpoint. */
    static final Map<String, String[]> COMMANDS = Map.ofEntries(
            Map.entry("ping", new String[] {"GET", "vmm.ping"}),
            Map.entry("shutdown-vmm", new String[] {"PUT", "vmm.shutdown"}),
            Map.entry("create", new String[] {"PUT", "vm.create"}),
            Map.entry("boot", new String[] {"PUT", "vm.boot"}),
            Map.entry("info", new String[] {"GET", "vm.info"}),
            Map.entry("counters", new String[] {"GET", "vm.counters"}),
            Map.entry("pause", new String[] {"PUT", "vm.pause"}),
            Map.entry("resume", new String[] {"PUT", "vm.resume"}),
            Map.entry("shutdown", new String[] {"PUT", "vm.shutdown"}),
            Map.entry("reboot", new String[] {"PUT", "vm.reboot"}),
            Map.entry("power-button", new String[] {"PUT", "vm.power-button"}),
            Map.entry("delete", new String[] {"PUT", "vm.delete"}),
            Map.entry("snapshot", new String[] {"PUT", "vm.snapshot"}),
            Map.entry("restore", new String[] {"PUT", "vm.restore"}));

    @Option(names = "--api-socket", paramLabel = "PATH", required = true, description = "The VMM's API socket.")
    Path socket;

    @Parameters(index = "0", paramLabel = "COMMAND", description = "What to do (see Commands).")
    String command;

    @Parameters(index = "1..*", paramLabel = "ARG", description = "create: the VmConfig JSON file (- or none: standard input).")
    List<String> args = List.of();

    private final java.io.InputStream in;
    private final PrintWriter out;
    private final PrintWriter err;

    RemoteMain(java.io.InputStream in, PrintWriter out, PrintWriter err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * What ch-remote prints on standard error when the server refuses a request, line by line: its heading,
     * then the chain of errors numbered from the most general, "http client error", the status as ch-remote's
     * client names it, then each message of Cloud Hypervisor's JSON array body (general to specific), or the
     * body itself when it is not such an array (a proxy's plain text).
     */
    static List<String> errorChain(int status, String body) {
        List<String> chain = new java.util.ArrayList<>(List.of("http client error", "Server responded with " + statusName(status)));
        try {
            com.fasterxml.jackson.databind.JsonNode messages = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body);
            if (messages != null && messages.isArray()) {
                messages.forEach(m -> chain.add(m.isTextual() ? m.textValue() : m.toString()));
            } else if (!body.isBlank()) {
                chain.add(body.strip());
            }
        } catch (IOException notJson) {
            chain.add(body.strip());
        }
        List<String> lines = new java.util.ArrayList<>(List.of("Error: nimbus-remote exited with the following chain of errors:"));
        for (int i = 0; i < chain.size(); i++) {
            lines.add("  " + i + ": " + chain.get(i));
        }
        return lines;
    }

    /** An HTTP status as ch-remote's client names it ({@code InternalServerError}); {@code Unknown} for others. */
    static String statusName(int status) {
        return switch (status) {
            case 400 -> "BadRequest";
            case 404 -> "NotFound";
            case 405 -> "MethodNotAllowed";
            case 429 -> "TooManyRequests";
            case 500 -> "InternalServerError";
            case 501 -> "NotImplemented";
            default -> "Unknown";
        };
    }

    /** Runs the command line and returns the exit code; the entry point for tests too. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        return run(args, System.in, out, err);
    }

    /** The same, with {@code in} as standard input (create's VmConfig without a file). */
    static int run(String[] args, java.io.InputStream in, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new RemoteMain(in, out, err));
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("nimbus-remote: " + e.getMessage());
            return 2;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        String[] target = COMMANDS.get(command);
        if (target == null) {
            err.println("nimbus-remote: unknown command '" + command + "' (expected one of " + String.join(", ", COMMANDS.keySet().stream().sorted().toList()) + ")");
            return 2;
        }
        String body = null;
        if (command.equals("create")) {
            if (args.size() > 1) {
                err.println("nimbus-remote: create: expected at most one argument, the VmConfig JSON file (- or none: standard input)");
                return 2;
            }
            String file = args.isEmpty() ? "-" : args.getFirst();
            try {
                body = file.equals("-") ? new String(in.readAllBytes(), StandardCharsets.UTF_8)
                        : Files.readString(Path.of(file), StandardCharsets.UTF_8);
            } catch (IOException e) {
                err.println("nimbus-remote: create: cannot read " + (file.equals("-") ? "standard input" : file) + ": " + e.getMessage());
                return 2;
            }
        } else if (command.equals("snapshot") || command.equals("restore")) {
            if (args.size() != 1) {
                err.println("nimbus-remote: " + command + ": expected one argument, " + (command.equals("snapshot")
                        ? "the destination URL (file:///DIR)" : "source_url=file:///DIR[,prefault=on][,resume=on]"));
                return 2;
            }
            com.fasterxml.jackson.databind.node.ObjectNode json = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
            if (command.equals("snapshot")) {
                String problem = RestoreConfig.urlProblem(args.getFirst());
                if (problem != null) {
                    err.println("nimbus-remote: snapshot: " + problem);
                    return 2;
                }
                json.put("destination_url", args.getFirst());
            } else {
                try {
                    RestoreConfig r = RestoreConfig.parse(args.getFirst());
                    json.put("source_url", r.directory().toUri().toString()).put("prefault", r.prefault());
                    if (r.resume()) {
                        json.put("resume", true);
                    }
                } catch (ConfigException e) {
                    err.println("nimbus-remote: restore: " + e.getMessage());
                    return 2;
                }
            }
            body = json.toString();
        } else if (!args.isEmpty()) {
            err.println("nimbus-remote: " + command + ": takes no arguments");
            return 2;
        }
        HttpClient client = new HttpClient();
        try {
            client.start();
            Request request = client.newRequest("http://localhost/api/v1/" + target[1])
                    .transport(new Transport.TCPUnix(socket))
                    .method(target[0])
                    // saving or loading guest RAM takes as long as the disk needs
                    .timeout(command.equals("snapshot") || command.equals("restore") ? 900 : 60, TimeUnit.SECONDS);
            if (body != null) {
                request.body(new StringRequestContent("application/json", body));
            }
            ContentResponse response = request.send();
            String text = response.getContentAsString();
            if (response.getStatus() / 100 == 2) {
                if (!text.isEmpty()) {
                    out.println(text);
                }
                return 0;
            }
            errorChain(response.getStatus(), text).forEach(err::println);
            return 1;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            err.println("nimbus-remote: cannot reach the VMM at " + socket + ": " + cause.getMessage());
            return 1;
        } finally {
            client.stop();
        }
    }
}
