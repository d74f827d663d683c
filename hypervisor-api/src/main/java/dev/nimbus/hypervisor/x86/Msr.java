package dev.nimbus.hypervisor.x86;

/** A model-specific register's index and value. */
public record Msr(int index, long value) {
}
