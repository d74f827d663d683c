package dev.nimbus.hypervisor.x86;

/** A GDTR or IDTR value: the table's guest linear base address and its limit (size - 1). */
public record X86DescriptorTable(long base, int limit) {
}
