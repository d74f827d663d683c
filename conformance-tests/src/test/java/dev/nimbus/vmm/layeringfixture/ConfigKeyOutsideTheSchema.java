package dev.nimbus.vmm.layeringfixture;

import com.fasterxml.jackson.databind.JsonNode;

/** Breaks the schema rule: a VmConfig member read by a name written outside the schema. */
public final class ConfigKeyOutsideTheSchema {
    private ConfigKeyOutsideTheSchema() {}

    public static long bootVcpus(JsonNode vmConfig) {
        return vmConfig.get("cpus").get("boot_vcpus").asLong();
    }
}
