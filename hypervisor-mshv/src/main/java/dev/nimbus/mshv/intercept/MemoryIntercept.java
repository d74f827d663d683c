package dev.nimbus.mshv.intercept;

/**
 * An access to guest physical memory that is not mapped ({@code HVMSG_UNMAPPED_GPA}: MMIO) or is intercepted
 * ({@code HVMSG_GPA_INTERCEPT}: mapped without the access's permission). Unlike KVM, the hypervisor does not
 * say what was read or written: the VMM decodes {@link #instruction} with the x86 instruction emulator,
 * performs the access on its bus and completes the instruction.
 *
 * @param unmapped          {@code HVMSG_UNMAPPED_GPA} rather than {@code HVMSG_GPA_INTERCEPT}
 * @param gva               the guest virtual address, meaningful only when {@code gvaValid}
 * @param instruction       the bytes at RIP the hypervisor fetched (possibly fewer than the instruction's length
 *                          at a page end)
 */
public record MemoryIntercept(InterceptHeader header, boolean unmapped, long gpa, long gva, boolean gvaValid, int cacheType,
                              InstructionBytes instruction) implements HvIntercept {
}
