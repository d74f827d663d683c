package dev.nimbus.vmm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.vmm.Version;
import dev.nimbus.vmm.config.ConfigException;
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
import java.util.Map;

/**
 * The REST API's endpoints, {@code /api/v1/<name>}, with Cloud Hypervisor's names, methods, bodies and
 * status codes: 204 done, 200 with a JSON body, 400 a bad request (the body says what), 404 no VM or no
 * such endpoint, 405 the VM's state (or the method) does not allow it, 413 a body over 1 MiB, 500 the VMM or
 * the hypervisor failed. Every request goes to the {@link VmController}.
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

        static Reply error(int status, String message) {
            return new Reply(status, "text/plain; charset=utf-8", message + "\n");
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
            reply = Reply.error(HttpStatus.INTERNAL_SERVER_ERROR_500, "internal error: " + e);
        }
        LOG.log(Level.DEBUG, "{0} {1} -> {2}", request.getMethod(), request.getHttpURI().getPath(), reply.status());
        response.setStatus(reply.status());
        if (reply.body() == null) {
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
            return Reply.error(HttpStatus.NOT_FOUND_404, "no such endpoint: " + path + " (the API is under " + PREFIX + ")");
        }
        String endpoint = path.substring(PREFIX.length());
        String method = request.getMethod();
        Endpoint e = Endpoint.byName(endpoint);
        if (e == null) {
            return Reply.error(HttpStatus.NOT_FOUND_404, "no such endpoint: " + endpoint);
        }
        if (!e.method.equals(method)) {
            return Reply.error(HttpStatus.METHOD_NOT_ALLOWED_405, endpoint + ": expected " + e.method + ", got " + method);
        }
        try {
            return switch (e) {
                case VMM_PING -> ok(ping());
                case VMM_SHUTDOWN -> {
                    controller.shutdownVmm();
                    yield Reply.noContent();
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
                case VM_DELETE -> done(controller::delete);
                case VM_INFO -> ok(info(controller.info()));
                case VM_COUNTERS -> ok(counters(controller.counters()));
            };
        } catch (BadRequest b) {
            return Reply.error(b.status, b.getMessage());
        } catch (ConfigException c) {
            return Reply.error(HttpStatus.BAD_REQUEST_400, named(endpoint, c.apiMessage()));
        } catch (ControlException c) {
            int status = switch (c.kind()) {
                case BAD_REQUEST -> HttpStatus.BAD_REQUEST_400;
                case NO_VM -> HttpStatus.NOT_FOUND_404;
                case WRONG_STATE -> HttpStatus.METHOD_NOT_ALLOWED_405;
                case INTERNAL -> HttpStatus.INTERNAL_SERVER_ERROR_500;
            };
            // a configuration check shared with the command line: name the setting as the JSON does
            String message = c.getCause() instanceof ConfigException config ? config.apiMessage() : c.getMessage();
            return Reply.error(status, named(endpoint, message));
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
        n.putArray("features");
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

        BadRequest(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private JsonNode json(Body body) throws BadRequest {
        if (body.error() != null) {
            throw new BadRequest(body.errorStatus(), body.error());
        }
        byte[] bytes = body.bytes();
        if (bytes.length == 0) {
            throw new BadRequest(HttpStatus.BAD_REQUEST_400, "a JSON body is required");
        }
        try {
            return json.readTree(bytes);
        } catch (IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new BadRequest(HttpStatus.BAD_REQUEST_400, "the body is not valid JSON: " + String.valueOf(m).replace('\n', ' '));
        }
    }

    /** The endpoints, with Cloud Hypervisor's names and methods. */
    enum Endpoint {
        VMM_PING("vmm.ping", "GET"),
        VMM_SHUTDOWN("vmm.shutdown", "PUT"),
        VM_CREATE("vm.create", "PUT"),
        VM_BOOT("vm.boot", "PUT"),
        VM_INFO("vm.info", "GET"),
        VM_COUNTERS("vm.counters", "GET"),
        VM_PAUSE("vm.pause", "PUT"),
        VM_RESUME("vm.resume", "PUT"),
        VM_SHUTDOWN("vm.shutdown", "PUT"),
        VM_REBOOT("vm.reboot", "PUT"),
        VM_POWER_BUTTON("vm.power-button", "PUT"),
        VM_DELETE("vm.delete", "PUT");

        final String path;
        final String method;

        Endpoint(String path, String method) {
            this.path = path;
            this.method = method;
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
