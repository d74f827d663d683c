package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * {@code --restore source_url=file:///DIR[,prefault=on][,resume=on]}, or {@code vm.restore}'s body
 * ({@code {"source_url": "file:///DIR", "prefault": false}}): which snapshot to restore, whether to load all
 * its memory at once, and (Nimbus's own) whether to resume the guest at once.
 */
public record RestoreConfig(Path directory, boolean prefault, boolean resume) {
    /** One {@code --restore} value. */
    public static RestoreConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.RESTORE, text));
    }

    /** {@code vm.restore}'s body. */
    public static RestoreConfig fromJson(JsonNode body) throws ConfigException {
        Values v = Values.fromJson(Schema.RESTORE_BODY, body, 0);
        return new RestoreConfig(directory(v.get(Schema.RESTORE_BODY_SOURCE_URL)), v.get(Schema.RESTORE_BODY_PREFAULT),
                v.get(Schema.RESTORE_BODY_RESUME));
    }

    /** {@code vm.snapshot}'s body ({@code {"destination_url": "file:///DIR"}}): the directory. */
    public static Path snapshotDestination(JsonNode body) throws ConfigException {
        return directory(Values.fromJson(Schema.SNAPSHOT_BODY, body, 0).get(Schema.SNAPSHOT_DESTINATION_URL));
    }

    private static RestoreConfig from(Values v) {
        return new RestoreConfig(directory(v.get(Schema.RESTORE_SOURCE_URL)), v.get(Schema.RESTORE_PREFAULT),
                v.get(Schema.RESTORE_RESUME));
    }

    /** The directory a {@code file://} URL names (snapshot and restore take only those, as Cloud Hypervisor does). */
    public static Path directory(String url) {
        return Path.of(URI.create(url));
    }

    /** Why {@code url} is not a {@code file://} URL of an absolute directory, or null when it is. */
    public static String urlProblem(String url) {
        try {
            URI u = new URI(url);
            if (!"file".equals(u.getScheme())) {
                return "'" + url + "' is not a file:// URL (such as file:///var/lib/nimbus/snap1)";
            }
            if (u.getAuthority() != null || u.getPath() == null || u.getPath().isEmpty() || u.getQuery() != null
                    || u.getFragment() != null) {
                return "'" + url + "' is not a file:///PATH URL of a directory on this host";
            }
            Path.of(u);
            return null;
        } catch (URISyntaxException | IllegalArgumentException e) {
            return "'" + url + "' is not a URL: " + e.getMessage();
        }
    }
}
