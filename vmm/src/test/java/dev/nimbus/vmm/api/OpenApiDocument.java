package dev.nimbus.vmm.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The API's own OpenAPI document ({@code dev/nimbus/vmm/api/openapi.yaml}, shipped in the jar) for tests:
 * its tree, and a check that an answer is one the document promises (a listed status, a body valid against
 * the schema for it, validated by networknt's JSON Schema validator, draft 2020-12 as OpenAPI 3.1 uses).
 */
final class OpenApiDocument {
    static final String RESOURCE = "dev/nimbus/vmm/api/openapi.yaml";
    private static final JsonNode TREE = load();
    private static final SchemaRegistry SCHEMAS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    private OpenApiDocument() {}

    private static JsonNode load() {
        try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            assertThat(in).as(RESOURCE + " on the class path").isNotNull();
            Object yaml = new tools.jackson.dataformat.yaml.YAMLMapper().readValue(in, Object.class);
            return new ObjectMapper().valueToTree(yaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The whole document. */
    static JsonNode tree() {
        return TREE;
    }

    /** {@code components/schemas/<name>}. */
    static JsonNode schema(String name) {
        JsonNode s = TREE.at("/components/schemas/" + name);
        assertThat(s.isMissingNode()).as("schema %s in the document", name).isFalse();
        return s;
    }

    /** The schema a {@code $ref} names, or the node itself. */
    static JsonNode resolve(JsonNode node) {
        JsonNode ref = node.get("$ref");
        return ref == null ? node : TREE.at(ref.asText().substring(1));
    }

    /** Validation errors of {@code json} against {@code components/schemas/<name>}; empty when valid. */
    static List<String> errors(String name, String json) {
        return SCHEMAS.getSchema(SchemaLocation.of("classpath:" + RESOURCE + "#/components/schemas/" + name))
                .validate(json, InputFormat.JSON).stream().map(Object::toString).toList();
    }

    /**
     * Checks an answer against the document: for a documented endpoint the status is one it lists and a body
     * is valid against that response's schema; any error body is Cloud Hypervisor's array of strings.
     */
    static void check(String method, String endpoint, int status, String body) {
        JsonNode operation = TREE.at("/paths/~1" + endpoint + "/" + method.toLowerCase(Locale.ROOT));
        if (!operation.isMissingNode()) {
            JsonNode response = operation.at("/responses/" + status);
            assertThat(response.isMissingNode()).as("%s %s answered %d, which the document does not list", method, endpoint, status)
                    .isFalse();
            JsonNode schema = resolve(response).at("/content/application~1json/schema/$ref");
            if (!schema.isMissingNode()) {
                String name = schema.asText().substring(schema.asText().lastIndexOf('/') + 1);
                assertThat(errors(name, body)).as("%s %s %d body against %s: %s", method, endpoint, status, name, body).isEmpty();
                return;
            }
        }
        if (status >= 400 && body != null && !body.isEmpty()) {
            assertThat(errors("ErrorBody", body)).as("%s %s %d error body: %s", method, endpoint, status, body).isEmpty();
        }
    }
}
