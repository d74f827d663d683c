package dev.nimbus.vmm.config;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nimbus.vmm.config.ConfigException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for {@code vm.create}'s body, which any client of the API socket controls: a VmConfig is
 * read, or refused with a {@link ConfigException} (a 400 that names the field); any other exception would
 * be a 500. Without {@code JAZZER_FUZZ=1} it runs once per committed input
 * ({@code src/test/resources/dev/nimbus/vmm/api/VmConfigJsonFuzzTestInputs/}), as a regression test; those
 * inputs (whole VmConfigs as Cloud Hypervisor's clients send them) are also the fuzzer's seeds.
 */
class VmConfigJsonFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "30s")
    void vmConfigIsReadOrRefusedWithAFieldNamed(byte[] body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (Exception notJson) {
            return; // not JSON: the REST layer answers 400 before VmConfigJson sees it
        }
        if (root == null) {
            return;
        }
        try {
            assertThat(VmConfigJson.read(root)).isNotNull();
        } catch (ConfigException e) {
            assertThat(e.apiMessage()).as("a refusal says what is wrong").isNotBlank();
        }
    }
}
