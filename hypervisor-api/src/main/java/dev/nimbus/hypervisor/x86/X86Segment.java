package dev.nimbus.hypervisor.x86;

/**
 * A segment register's hidden part as the CPU caches it: base, limit, selector and the descriptor's
 * attribute bits ({@code type} is the 4-bit type field, {@code s} the code/data bit, {@code l} 64-bit
 * code, {@code db} default size, {@code g} granularity).
 */
public record X86Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                         boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {
}
