package dev.nimbus.vmm.config;

import java.util.Objects;

/**
 * The whole configuration of one VM, from the command line or (later) the REST API's {@code vm.create}.
 * Shaped after Cloud Hypervisor's {@code VmConfig}.
 */
public record VmConfig(CpusConfig cpus, MemoryConfig memory, PayloadConfig payload, ConsoleConfig serial,
                       ConsoleConfig console) {
    public VmConfig {
        Objects.requireNonNull(cpus, "cpus");
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(console, "console");
    }
}
