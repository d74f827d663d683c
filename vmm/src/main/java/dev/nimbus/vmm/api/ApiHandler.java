package dev.nimbus.vmm.api;

import dev.nimbus.host.Landlock;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.vmm.Version;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.RestoreConfig;
import dev.nimbus.vmm.config.VmConfigJson;
import dev.nimbus.vmm.control.ControlException;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.control.VmInfo;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * The REST API's endpoints, {@code /api/v1/<name>}, with Cloud Hypervisor's names, methods, bodies and
 * status codes as its server sends them (which is not always what its OpenAPI document says): 204 done, 200
 * with a JSON body (vmm.shutdown: 200 with an empty body), 400 a bad request (a bad configuration, a body
 * that is not JSON, a method the endpoint does not take), 404 no such endpoint, or no VM for vm.boot,
 * vm.info and vm.reboot, 413 a body over 1 MiB, 500 anything else the VM's state does not allow (pausing a
 * VM that does not run, creating a second one) or the VMM or hypervisor failed. vm.delete without a VM is
 * done (204). An error's body is Cloud Hypervisor's: a JSON array of strings from the most general to the
 * most specific, the last naming the endpoint and the field ({@code ["Error from API", "The VM could not be
 * created", "vm.create: cpus.boot_vcpus: 0 is out of range (1 to 255)"]}). Every request goes to the
 * {@link VmController}.
 */
public final class ApiHandler extends Handler.Abstract {
    private static final System.Logger LOG = System.getLogger(ApiHandler.class.getName());
    /** The largest request body accepted; a VmConfig is a few hundred bytes. */
    static final int MAX_BODY = 1 << 20;
    static final String PREFIX = "/api/v1/";

    private final VmController controller;
    private final ObjectMapper json = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    public ApiHandler(VmController controller) {
        this.controller = controller;
        json.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }

    /** An answer: a status and, for 200 and errors, a body. */
    private record Reply(int status, String contentType, String body) {
        static Reply noContent() {
            return new Reply(HttpStatus.NO_CONTENT_204, null, null);
        }

        /** An error: Cloud Hypervisor's body, a JSON array of the messages from the general to the specific. */
        static Reply error(int status, String... chain) {
            StringBuilder body = new StringBuilder("[");
            for (int i = 0; i < chain.length; i++) {
                body.append(i == 0 ? "" : ",").append(JsonNodeFactory.instance.textNode(chain[i]).toString());
            }
            return new Reply(status, "application/json", body.append("]").toString());
        }
    }

    /**
     * What arrived as the request body, read before the request is dispatched: its bytes, or why there are
     * none to use (over the limit, a read error). Reading never holds a thread while a client is slow to send:
     * the body is gathered asynchronously and the request is dispatched when it is complete.
     */
    private record Body(byte[] bytes, int errorStatus, String error) {
        static final Body EMPTY = new Body(new byte[0], 0, null);

        static Body failed(int status, String error) {
            return new Body(null, status, error);
        }
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Landlock.joinEnforced();
        long length = request.getLength();
        if (length == 0 || HttpMethod.GET.is(request.getMethod())) {
            answer(request, response, callback, Body.EMPTY);
        } else if (length > MAX_BODY) {
            answer(request, response, callback, Body.failed(HttpStatus.PAYLOAD_TOO_LARGE_413,
                    "request body of " + length + " bytes is over the limit of " + MAX_BODY));
        } else {
            Content.Source.asByteArrayAsync(request, MAX_BODY).whenComplete((bytes, failure) -> answer(request, response, callback,
                    failure == null ? new Body(bytes, 0, null) : readFailure(failure)));
        }
        return true;
    }

    private static Body readFailure(Throwable failure) {
        Throwable cause = failure.getCause() != null && failure instanceof java.util.concurrent.CompletionException ? failure.getCause() : failure;
        if (cause instanceof IllegalStateException) {   // Jetty's "Max size (N) exceeded" of the aggregation
            return Body.failed(HttpStatus.PAYLOAD_TOO_LARGE_413, "request body is over the limit of " + MAX_BODY + " bytes");
        }
        return Body.failed(HttpStatus.BAD_REQUEST_400, "cannot read the request body: " + cause.getMessage());
    }

    private void answer(Request request, Response response, Callback callback, Body body) {
        Reply reply;
        try {
            reply = dispatch(request, body);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "API request failed unexpectedly", e);
            reply = Reply.error(HttpStatus.INTERNAL_SERVER_ERROR_500, "Error from API", "internal error: " + e);
        }
        LOG.log(Level.DEBUG, "{0} {1} -> {2}", request.getMethod(), request.getHttpURI().getPath(), reply.status());
        response.setStatus(reply.status());
        if (reply.body() == null) {
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
        } else if (reply.body().isEmpty()) {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
        } else {
            byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, reply.contentType());
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
            response.write(true, ByteBuffer.wrap(bytes), callback);
        }
    }

    private Reply dispatch(Request request, Body body) {
        String path = request.getHttpURI().getPath();
        if (path == null || !path.startsWith(PREFIX)) {
            return Reply.error(HttpStatus.NOT_FOUND_404, "Not Found", "no such endpoint: " + path + " (the API is under " + PREFIX + ")");
        }
        String endpoint = path.substring(PREFIX.length());
        String method = request.getMethod();
        Endpoint e = Endpoint.byName(endpoint);
        if (e == null) {
            return Reply.error(HttpStatus.NOT_FOUND_404, "Not Found", "no such endpoint: " + endpoint);
        }
        if (!e.method.equals(method)) {
            return Reply.error(HttpStatus.BAD_REQUEST_400, "Bad Request", endpoint + ": expected " + e.method + ", got " + method);
        }
        try {
            return switch (e) {
                case VMM_PING -> ok(ping());
                case VMM_SHUTDOWN -> {
                    controller.shutdownVmm();
                    yield new Reply(HttpStatus.OK_200, null, ""); // Cloud Hypervisor answers 200, empty
                }
                case VM_CREATE -> {
                    controller.create(VmConfigJson.read(json(body)));
                    yield Reply.noContent();
                }
                case VM_BOOT -> done(controller::boot);
                case VM_PAUSE -> done(controller::pause);
                case VM_RESUME -> done(controller::resume);
                case VM_SHUTDOWN -> done(controller::shutdown);
                case VM_REBOOT -> done(controller::reboot);
                case VM_POWER_BUTTON -> done(controller::powerButton);
                case VM_DELETE -> {
                    try {
                        controller.delete();
                    } catch (ControlException c) {
                        if (c.kind() != ControlException.Kind.NO_VM) {
                            throw c;
                        }
                        // nothing to delete is done, as in Cloud Hypervisor
                    }
                    yield Reply.noContent();
                }
                case VM_SNAPSHOT -> {
                    controller.snapshot(RestoreConfig.snapshotDestination(json(body)));
                    yield Reply.noContent();
                }
                case VM_RESTORE -> {
                    controller.restore(RestoreConfig.fromJson(json(body)));
                    yield Reply.noContent();
                }
                case VM_INFO -> ok(info(controller.info()));
                case VM_COUNTERS -> ok(counters(controller.counters()));
            };
        } catch (BadRequest b) {
            return Reply.error(b.status, b.kind, named(endpoint, b.getMessage()));
        } catch (ConfigException c) {
            return Reply.error(HttpStatus.BAD_REQUEST_400, "Error from API", e.failure, named(endpoint, c.apiMessage()));
        } catch (ControlException c) {
            int status = switch (c.kind()) {
                case BAD_REQUEST -> HttpStatus.BAD_REQUEST_400;
                // Cloud Hypervisor: 404 where there is no VM to boot, show or reboot; elsewhere the VM's
                // state is an error of the request like any other, 500
                case NO_VM -> e == Endpoint.VM_BOOT || e == Endpoint.VM_INFO || e == Endpoint.VM_REBOOT
                        ? HttpStatus.NOT_FOUND_404 : HttpStatus.INTERNAL_SERVER_ERROR_500;
                // a snapshot of a VM that is not paused: 405, as Cloud Hypervisor answers it
                case WRONG_STATE -> e == Endpoint.VM_SNAPSHOT ? HttpStatus.METHOD_NOT_ALLOWED_405 : HttpStatus.INTERNAL_SERVER_ERROR_500;
                case INTERNAL -> HttpStatus.INTERNAL_SERVER_ERROR_500;
            };
            // a configuration check shared with the command line: name the setting as the JSON does
            String message = c.getCause() instanceof ConfigException config ? config.apiMessage() : c.getMessage();
            return Reply.error(status, "Error from API", e.failure, named(endpoint, message));
        }
    }

    /** The message, led by the endpoint's name unless it already is. */
    private static String named(String endpoint, String message) {
        return message.startsWith(endpoint + ":") ? message : endpoint + ": " + message;
    }

    private interface Action {
        void run() throws ControlException;
    }

    private static Reply done(Action a) throws ControlException {
        a.run();
        return Reply.noContent();
    }

    private Reply ok(JsonNode body) {
        try {
            return new Reply(HttpStatus.OK_200, "application/json", json.writeValueAsString(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private ObjectNode ping() {
        ObjectNode n = json.createObjectNode();
        n.put("build_version", Version.get());
        n.put("version", Version.get());
        n.put("pid", ProcessHandle.current().pid());
        n.putArray("features").add("kvm"); // Cloud Hypervisor lists its build features; MSHV is not usable yet
        return n;
    }

    private ObjectNode info(VmInfo info) {
        ObjectNode n = json.createObjectNode();
        n.set("config", VmConfigJson.write(info.config()));
        n.put("state", info.state().apiName());
        n.put("memory_actual_size", info.memoryActualSize());
        return n;
    }

    private ObjectNode counters(Map<String, Map<String, Long>> counters) {
        ObjectNode n = json.createObjectNode();
        counters.forEach((device, values) -> {
            ObjectNode d = n.putObject(device);
            values.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(v -> d.put(v.getKey(), v.getValue()));
        });
        return n;
    }

    /** A request whose HTTP-level content is wrong: no body, too big, not JSON. */
    private static final class BadRequest extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;
        /** Cloud Hypervisor's first line for it ({@code Failed to deserialize JSON}). */
        final String kind;

        BadRequest(int status, String kind, String message) {
            super(message);
            this.status = status;
            this.kind = kind;
        }
    }

    private JsonNode json(Body body) throws BadRequest {
        if (body.error() != null) {
            throw new BadRequest(body.errorStatus(), body.errorStatus() == HttpStatus.PAYLOAD_TOO_LARGE_413
                    ? "Payload Too Large" : "Bad Request", body.error());
        }
        byte[] bytes = body.bytes();
        if (bytes.length == 0) {
            throw new BadRequest(HttpStatus.BAD_REQUEST_400, "Bad Request", "a JSON body is required");
        }
        try {
            return json.readTree(bytes);
        } catch (IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new BadRequest(HttpStatus.BAD_REQUEST_400, "Failed to deserialize JSON",
                    "the body is not valid JSON: " + String.valueOf(m).replace('\n', ' '));
        }
    }

    /** The endpoints, with Cloud Hypervisor's names, methods and what its errors say failed. */
    enum Endpoint {
        VMM_PING("vmm.ping", "GET", "The VMM could not answer"),
        VMM_SHUTDOWN("vmm.shutdown", "PUT", "The VMM could not shutdown"),
        VM_CREATE("vm.create", "PUT", "The VM could not be created"),
        VM_BOOT("vm.boot", "PUT", "The VM could not boot"),
        VM_INFO("vm.info", "GET", "The VM info is not available"),
        VM_COUNTERS("vm.counters", "GET", "The VM info is not available"),
        VM_PAUSE("vm.pause", "PUT", "The VM could not be paused"),
        VM_SNAPSHOT("vm.snapshot", "PUT", "The VM could not be snapshotted"),
        VM_RESTORE("vm.restore", "PUT", "The VM could not be restored"),
        VM_RESUME("vm.resume", "PUT", "The VM could not resume"),
        VM_SHUTDOWN("vm.shutdown", "PUT", "The VM could not shutdown"),
        VM_REBOOT("vm.reboot", "PUT", "The VM could not reboot"),
        VM_POWER_BUTTON("vm.power-button", "PUT", "Error triggering power button"),
        VM_DELETE("vm.delete", "PUT", "The VM could not be deleted");

        final String path;
        final String method;
        /** Cloud Hypervisor's second line of an error of this endpoint. */
        final String failure;

        Endpoint(String path, String method, String failure) {
            this.path = path;
            this.method = method;
            this.failure = failure;
        }

        static Endpoint byName(String name) {
            for (Endpoint e : values()) {
                if (e.path.equals(name)) {
                    return e;
                }
            }
            return null;
        }
    }
}
