package dev.nimbus.mshv.intercept;

/**
 * {@code HVMSG_X64_APIC_EOI}: the guest's local APIC on VP {@code vpIndex} ended level-triggered interrupt
 * {@code vector} (one asserted as level-triggered: the userspace IOAPIC's level pins). Nothing to complete; the
 * VP runs on.
 */
public record ApicEoi(int vpIndex, int vector) implements HvIntercept {
}
