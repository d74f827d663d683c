package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * {@code --api-socket path=PATH} or {@code --api-socket fd=N}: where the REST API listens, a Unix domain socket
 * Nimbus creates (mode 0600) or the listening one a supervisor made and handed down as descriptor N.
 */
public record ApiSocketConfig(Optional<Path> path, OptionalInt fd) {
    public ApiSocketConfig {
        if (path.isPresent() == fd.isPresent()) {
            throw new IllegalArgumentException("one of path and fd");
        }
    }

    /** One {@code --api-socket} value. */
    public static ApiSocketConfig parse(String text) throws ConfigException {
        Values v = Values.fromCommandLine(Schema.API_SOCKET, text);
        if (v.given(Schema.API_SOCKET_PATH) == v.given(Schema.API_SOCKET_FD)) {
            throw new ConfigException("--api-socket: give path=PATH or fd=N, one of them");
        }
        return v.given(Schema.API_SOCKET_PATH)
                ? new ApiSocketConfig(Optional.of(v.get(Schema.API_SOCKET_PATH)), OptionalInt.empty())
                : new ApiSocketConfig(Optional.empty(), OptionalInt.of(v.integer(Schema.API_SOCKET_FD)));
    }
}
