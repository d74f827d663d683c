package dev.nimbus.vmm.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.Field;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.config.Section;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.config.VmConfigJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The API's OpenAPI document against the code: a VmConfig with every field at the document's default
 * (generated here from the document, not typed) is what vm.create takes; each field the document marks
 * {@code x-nimbus: not-built}, set to something other than its default, is refused naming its path; and the
 * document and the configuration schema list the same fields, built or not. (ApiServerTest checks every
 * answer it gets against the document's responses.)
 */
class OpenApiTest {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** The device lists the generated config has one entry in (with the document's defaults). */
    private static final java.util.Set<String> LISTS_OF_ONE = java.util.Set.of("/disks", "/net");
    @TempDir
    Path dir;

    /** An instance of {@code schema} with every property at its default; what is required without one gets {@code given}. */
    private static JsonNode defaults(JsonNode schema, Map<String, JsonNode> given, String path) {
        JsonNode s = OpenApiDocument.resolve(schema);
        if (s.has("default")) {
            return s.get("default").deepCopy();
        }
        if (given.containsKey(path)) {
            return given.get(path);
        }
        String type = s.path("type").isArray() ? s.path("type").get(0).asText() : s.path("type").asText();
        if (type.equals("object") && s.has("properties")) {
            ObjectNode o = NODES.objectNode();
            s.get("properties").properties().forEach(p -> {
                JsonNode v = defaults(p.getValue(), given, path + "/" + p.getKey());
                if (v != null) {
                    o.set(p.getKey(), v);
                }
            });
            return o;
        }
        if (type.equals("array") && s.has("items") && LISTS_OF_ONE.contains(path)) {
            ArrayNode a = NODES.arrayNode();
            a.add(defaults(s.get("items"), given, path + "[]"));
            return a;
        }
        if (s.has("enum")) {
            return s.get("enum").get(0).deepCopy();
        }
        return null; // no default, nothing asked: left out, as a client leaves an Option out
    }

    private ObjectNode defaultsFilled() throws Exception {
        Path kernel = Files.createFile(dir.resolve("vmlinux"));
        Map<String, JsonNode> given = Map.of(
                "/payload/kernel", NODES.textNode(kernel.toString()),
                "/disks[]/path", NODES.textNode("/img/root.raw"), "/net[]/tap", NODES.textNode("tap0"));
        ObjectNode doc = (ObjectNode) defaults(OpenApiDocument.schema("VmConfig"), given, "");
        // the consoles' mode has no default in the schema (Cloud Hypervisor's serial Null, console Tty when left out)
        ((ObjectNode) doc.get("serial")).put("mode", "Null");
        ((ObjectNode) doc.get("console")).put("mode", "Off");
        return doc;
    }

    @Test
    void aVmConfigWithEveryFieldAtTheDocumentsDefaultIsTakenAndIsValidAgainstIt() throws Exception {
        ObjectNode doc = defaultsFilled();
        assertThat(doc.at("/disks/0/sparse").asBoolean()).as("generated from the document's defaults").isTrue();
        assertThat(doc.at("/cpus/max_phys_bits").asInt()).isEqualTo(46);
        assertThat(OpenApiDocument.errors("VmConfig", doc.toString())).isEmpty();
        VmConfig config = VmConfigJson.read(doc);
        assertThat(config.disks()).hasSize(1);
        assertThat(config.nets().getFirst().queueSize()).isEqualTo(256);
        assertThat(OpenApiDocument.errors("VmConfig", VmConfigJson.write(config).toString()))
                .as("vm.info's config is valid against the document too").isEmpty();
    }

    /** Something other than {@code schema}'s default, of a type it allows. */
    private static JsonNode notTheDefault(JsonNode schema) {
        JsonNode d = schema.get("default");
        if (schema.has("enum")) {
            for (JsonNode e : schema.get("enum")) {
                if (!e.equals(d)) {
                    return e;
                }
            }
        }
        if (d != null && d.isBoolean()) {
            return NODES.booleanNode(!d.asBoolean());
        }
        if (d != null && d.isNumber()) {
            return NODES.numberNode(d.asLong() + 1);
        }
        String type = schema.path("type").isArray() ? schema.path("type").get(0).asText() : schema.path("type").asText();
        return switch (type) {
            case "array" -> NODES.arrayNode().add(1);
            case "object" -> NODES.objectNode().put("asked", true);
            case "integer" -> NODES.numberNode(7);
            case "boolean" -> NODES.booleanNode(true);
            default -> NODES.textNode("x");
        };
    }

    @Test
    void everyFieldNotBuiltAskingForSomethingIsRefusedNamingItsPath() throws Exception {
        List<String> refused = new ArrayList<>();
        record Place(String pointer, String path, JsonNode schema) {}
        List<Place> places = new ArrayList<>();
        JsonNode top = OpenApiDocument.schema("VmConfig").get("properties");
        top.properties().forEach(p -> {
            JsonNode s = OpenApiDocument.resolve(p.getValue());
            if ("not-built".equals(s.path("x-nimbus").asText())) {
                places.add(new Place("", p.getKey(), s));
            } else if (s.has("properties") || s.has("items")) {
                JsonNode inner = s.has("items") ? OpenApiDocument.resolve(s.get("items")) : s;
                boolean list = s.has("items");
                inner.path("properties").properties().forEach(q -> {
                    if ("not-built".equals(q.getValue().path("x-nimbus").asText())) {
                        places.add(new Place("/" + p.getKey() + (list ? "/0" : ""), p.getKey() + (list ? "[0]" : "") + "." + q.getKey(),
                                q.getValue()));
                    }
                });
            }
        });
        assertThat(places).as("the document marks fields not built").hasSizeGreaterThan(50);
        for (Place place : places) {
            ObjectNode doc = defaultsFilled();
            ObjectNode parent = place.pointer().isEmpty() ? doc : (ObjectNode) doc.at(place.pointer());
            String name = place.path().substring(place.path().lastIndexOf('.') + 1);
            parent.set(name, notTheDefault(place.schema()));
            assertThatThrownBy(() -> VmConfigJson.read(doc)).as(place.path()).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith(place.path() + ": ").hasMessageContaining("not supported yet");
            refused.add(place.path());
            Files.deleteIfExists(dir.resolve("vmlinux"));
        }
        assertThat(refused).contains("disks[0].vhost_user", "memory.reserve", "platform.num_pci_segments", "iommu");
    }

    @Test
    void theDocumentAndTheConfigurationSchemaListTheSameFields() {
        JsonNode top = OpenApiDocument.schema("VmConfig").get("properties");
        List<String> documented = new ArrayList<>();
        top.properties().forEach(p -> documented.add(p.getKey()));
        List<String> declared = new ArrayList<>();
        for (Section s : Schema.SECTIONS) {
            if (s.json().isEmpty() && s.option().isEmpty()) { // VmConfig's own fields (landlock_enable, not-built ones)
                s.fields().forEach(f -> f.json().ifPresent(declared::add));
            } else {
                s.json().ifPresent(declared::add);
            }
        }
        assertThat(documented).containsExactlyInAnyOrderElementsOf(declared);
        Map<String, String> schemaNames = Map.of("cpus", "CpusConfig", "memory", "MemoryConfig", "payload", "PayloadConfig",
                "disks", "DiskConfig", "net", "NetConfig", "rng", "RngConfig", "serial", "ConsoleConfig", "console", "ConsoleConfig",
                "platform", "PlatformConfig", "landlock_rules", "LandlockConfig");
        for (Section s : Schema.SECTIONS) {
            Optional<String> json = s.json();
            if (json.isEmpty() || s == Schema.NOT_YET) {
                continue;
            }
            JsonNode props = OpenApiDocument.schema(schemaNames.get(json.get())).get("properties");
            for (Field<?> f : s.fields()) {
                if (f.json().isEmpty()) {
                    continue;
                }
                JsonNode p = props.get(f.json().get());
                assertThat(p).as("%s.%s in the document", json.get(), f.json().get()).isNotNull();
                assertThat("not-built".equals(p.path("x-nimbus").asText())).as("%s.%s built in both or in neither", json.get(),
                        f.json().get()).isEqualTo(f.isNotYet());
            }
            List<String> fieldNames = s.fields().stream().flatMap(f -> f.json().stream()).toList();
            props.properties().forEach(p -> assertThat(fieldNames).as("%s in the schema", json.get()).contains(p.getKey()));
        }
    }
}
