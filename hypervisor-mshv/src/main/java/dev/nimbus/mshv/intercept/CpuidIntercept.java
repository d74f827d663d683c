package dev.nimbus.mshv.intercept;

/**
 * A {@code cpuid} ({@code HVMSG_X64_CPUID_INTERCEPT}, only for leaves an intercept was installed for): the leaf
 * ({@code rax}) and subleaf ({@code rcx}) asked, and what the hypervisor would answer by default.
 */
public record CpuidIntercept(InterceptHeader header, long rax, long rcx, long rdx, long rbx, long defaultRax,
                             long defaultRcx, long defaultRdx, long defaultRbx) implements HvIntercept {
}
