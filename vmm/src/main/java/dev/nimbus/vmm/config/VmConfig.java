package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole configuration of one VM, from the command line or the REST API's {@code vm.create}.
 * Shaped after Cloud Hypervisor's {@code VmConfig}; both front ends build the same records (the REST API
 * through {@code VmConfigJson}). Firmware is parsed but refused by the machine builder (not supported yet).
 */
public record VmConfig(CpusConfig cpus, MemoryConfig memory, PayloadConfig payload, ConsoleConfig serial,
                       ConsoleConfig console, List<DiskConfig> disks, List<NetConfig> nets, Optional<RngConfig> rng,
                       Optional<Path> firmware) {
    /** A configuration without disks, network, rng or firmware. */
    public VmConfig(CpusConfig cpus, MemoryConfig memory, PayloadConfig payload, ConsoleConfig serial, ConsoleConfig console) {
        this(cpus, memory, payload, serial, console, List.of(), List.of(), Optional.empty(), Optional.empty());
    }

    public VmConfig {
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
        Objects.requireNonNull(rng, "rng");
        Objects.requireNonNull(firmware, "firmware");
        Objects.requireNonNull(cpus, "cpus");
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(console, "console");
    }
}
