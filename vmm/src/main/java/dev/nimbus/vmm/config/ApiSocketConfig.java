package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Set;

/** {@code --api-socket path=PATH}: where the REST API listens (a Unix domain socket, created mode 0600). */
public record ApiSocketConfig(Path path) {
    static final Set<String> KEYS = Set.of("path");
    static final Set<String> UNSUPPORTED = Set.of("fd");
    /** The kernel's limit for a socket path (sun_path), less the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;

    public static ApiSocketConfig parse(String text) throws ConfigException {
        OptionList o = OptionList.parse("--api-socket", text, KEYS, UNSUPPORTED, Set.of());
        String path = o.string("path").orElseThrow(() -> new ConfigException("--api-socket: path= is required (for example path=/tmp/nimbus.sock)"));
        if (path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new ConfigException("--api-socket path: longer than " + MAX_PATH_BYTES + " bytes, the limit of a Unix socket path");
        }
        return new ApiSocketConfig(Path.of(path));
    }
}
