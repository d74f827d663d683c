package dev.nimbus.vmm.config;

import java.nio.file.Path;

/** {@code --api-socket path=PATH}: where the REST API listens (a Unix domain socket, created mode 0600). */
public record ApiSocketConfig(Path path) {
    /** One {@code --api-socket} value. */
    public static ApiSocketConfig parse(String text) throws ConfigException {
        return new ApiSocketConfig(Values.fromCommandLine(Schema.API_SOCKET, text).get(Schema.API_SOCKET_PATH));
    }
}
