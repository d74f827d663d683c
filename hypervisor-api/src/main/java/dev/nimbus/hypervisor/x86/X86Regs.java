package dev.nimbus.hypervisor.x86;

/** The x86-64 general-purpose registers, instruction pointer and flags of a vCPU. */
public record X86Regs(
        long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
        long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
        long rip, long rflags) {

    /** All zero but bit 1 of RFLAGS, which is reserved and always set. */
    public static X86Regs reset() {
        return new X86Regs(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2);
    }

    public X86Regs withRip(long value) {
        return new X86Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, value, rflags);
    }

    public X86Regs withRsp(long value) {
        return new X86Regs(rax, rbx, rcx, rdx, rsi, rdi, value, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public X86Regs withRsi(long value) {
        return new X86Regs(rax, rbx, rcx, rdx, value, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public X86Regs withRbx(long value) {
        return new X86Regs(rax, value, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }
}
