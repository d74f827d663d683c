package dev.nimbus.mshv.intercept;

/** A {@code rdmsr} or {@code wrmsr} ({@code HVMSG_X64_MSR_INTERCEPT}) of MSR {@code msr}; for a write, EDX:EAX. */
public record MsrIntercept(InterceptHeader header, int msr, long rdx, long rax) implements HvIntercept {
    public boolean write() {
        return header.access() == AccessType.WRITE;
    }

    /** EDX:EAX, the value a {@code wrmsr} writes. */
    public long value() {
        return rdx << 32 | (rax & 0xFFFF_FFFFL);
    }
}
