package dev.nimbus.vmm.control;

import dev.nimbus.vmm.config.VmConfig;

/** What {@code vm.info} reports: the configuration, the state and the guest RAM in bytes. */
public record VmInfo(VmConfig config, VmState state, long memoryActualSize) {}
