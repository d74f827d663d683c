package dev.nimbus.mshv.intercept;

/**
 * An {@code in}, {@code out}, {@code ins} or {@code outs} ({@code HVMSG_X64_IO_PORT_INTERCEPT}). The hypervisor
 * leaves the access to the VMM: for {@code in}, the VMM writes the low {@code size} bytes of RAX; for the
 * string forms it moves the data through guest memory at ES:RDI or DS:RSI, RCX times with REP, and updates
 * those registers; then it sets RIP to {@link InterceptHeader#nextRip()}.
 *
 * @param size the access size in bytes: 1, 2 or 4
 */
public record IoPortIntercept(InterceptHeader header, int port, int size, boolean string, boolean rep, long rax, long rcx,
                              long rsi, long rdi, Segment ds, Segment es, InstructionBytes instruction) implements HvIntercept {
    /** An {@code in}/{@code ins} (the guest reads the port); otherwise an {@code out}/{@code outs}. */
    public boolean in() {
        return header.access() == AccessType.READ;
    }
}
