package dev.nimbus.arch.x86_64;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;

/** An x86-64 vCPU's registers as the few lines a fatal-exit message ends with. */
final class RegisterDump {
    private RegisterDump() {}

    static String describe(Vcpu vcpu) {
        try {
            X86Vcpu x = vcpu.as(X86Vcpu.class);
            X86Regs r = x.getRegs();
            X86Sregs s = x.getSregs();
            return String.format("""
                    vCPU %d:
                      RIP=%016x RSP=%016x RFLAGS=%08x
                      RAX=%016x RBX=%016x RCX=%016x RDX=%016x
                      RSI=%016x RDI=%016x RBP=%016x
                      R8 =%016x R9 =%016x R10=%016x R11=%016x
                      R12=%016x R13=%016x R14=%016x R15=%016x
                      CR0=%08x CR2=%016x CR3=%016x CR4=%08x EFER=%x APIC_BASE=%x
                      CS=%s SS=%s DS=%s TR=%s
                      GDT=%x/%x IDT=%x/%x""",
                    vcpu.id(), r.rip(), r.rsp(), r.rflags(), r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rbp(),
                    r.r8(), r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(),
                    s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.efer(), s.apicBase(),
                    segment(s.cs()), segment(s.ss()), segment(s.ds()), segment(s.tr()),
                    s.gdt().base(), s.gdt().limit(), s.idt().base(), s.idt().limit());
        } catch (RuntimeException e) {
            return "vCPU " + vcpu.id() + ": registers cannot be read (" + e.getMessage() + ")";
        }
    }

    private static String segment(X86Segment g) {
        return String.format("%04x[base %x limit %x type %x%s%s%s]", g.selector(), g.base(), g.limit() & 0xffffffffL, g.type(),
                g.l() ? " L" : "", g.db() ? " DB" : "", g.unusable() ? " unusable" : "");
    }
}
