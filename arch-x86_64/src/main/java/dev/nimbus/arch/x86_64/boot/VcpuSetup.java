package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.arch.x86_64.cpuid.GuestCpuid;
import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.x86.LapicState;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;

import java.util.List;

/**
 * Puts a vCPU into the state its boot protocol requires. Every vCPU gets its CPUID, the boot MSRs, a reset
 * FPU and its local APIC's LINT0 (ExtINT, the 8259's output) and LINT1 (NMI) delivery modes, as a PC BIOS
 * leaves them. The boot vCPU (index 0) then gets the entry state and is made runnable; the others wait for
 * the INIT-SIPI-SIPI the guest sends them ({@link MpState#UNINITIALIZED}), which resets their registers
 * anyway.
 *
 * <p>64-bit Linux boot: long mode with paging on the identity map of {@link PageTables}, CS the 64-bit
 * code segment 0x10, the other data segments 0x18, interrupts off, RSI the zero page, RSP the boot stack,
 * RIP the kernel's {@code startup_64}. PVH: 32-bit protected mode without paging, flat 4 GiB code and
 * data segments, EBX the {@code hvm_start_info}.
 */
public final class VcpuSetup {
    private VcpuSetup() {}

    public static final long CR0_PE = 1L;
    public static final long CR0_ET = 1L << 4;
    public static final long CR0_NE = 1L << 5;
    public static final long CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5;
    public static final long EFER_LME = 1L << 8;
    public static final long EFER_LMA = 1L << 10;

    public static final int MSR_IA32_TSC = 0x10;
    public static final int MSR_IA32_SYSENTER_CS = 0x174;
    public static final int MSR_IA32_SYSENTER_ESP = 0x175;
    public static final int MSR_IA32_SYSENTER_EIP = 0x176;
    public static final int MSR_IA32_MISC_ENABLE = 0x1a0;
    public static final int MSR_MTRR_DEF_TYPE = 0x2ff;
    public static final int MSR_STAR = 0xc000_0081;
    public static final int MSR_LSTAR = 0xc000_0082;
    public static final int MSR_CSTAR = 0xc000_0083;
    public static final int MSR_SYSCALL_MASK = 0xc000_0084;
    public static final int MSR_KERNEL_GS_BASE = 0xc000_0102;
    /** IA32_MISC_ENABLE: fast string operations enabled, as firmware leaves it. */
    public static final long MISC_ENABLE_FAST_STRING = 1;
    /** MTRRdefType: MTRRs enabled, default memory type write-back. */
    public static final long MTRR_ENABLED_WRITE_BACK = (1 << 11) | 6;

    /** LVT LINT0 and LINT1 register offsets in the APIC page. */
    public static final int APIC_LVT_LINT0 = 0x350;
    public static final int APIC_LVT_LINT1 = 0x360;
    static final int DELIVERY_MODE_MASK = 0x700;
    public static final int DELIVERY_NMI = 4 << 8;
    public static final int DELIVERY_EXTINT = 7 << 8;

    static void setup(X86Vcpu vcpu, int index, X86BootPlan plan) {
        if (index < 0 || index >= plan.vcpus()) {
            throw new IllegalArgumentException("vCPU index " + index + " outside this machine's " + plan.vcpus() + " vCPUs");
        }
        vcpu.setCpuid(GuestCpuid.forVcpu(vcpu.supportedCpuid(), index, plan.vcpus(), plan.maxPhysBits()));
        vcpu.setMsrs(bootMsrs());
        vcpu.setFpu(X86Fpu.reset());
        vcpu.setLapic(withLocalInterrupts(vcpu.getLapic()));
        if (index == 0) {
            X86Sregs current = vcpu.getSregs();
            switch (plan.mode()) {
                case LINUX_64 -> {
                    vcpu.setSregs(longMode(current));
                    vcpu.setRegs(X86Regs.reset().withRip(plan.entryPoint()).withRsp(X86Layout.BOOT_STACK_POINTER)
                            .withRsi(plan.bootInfo()));
                }
                case PVH -> {
                    vcpu.setSregs(protectedMode(current));
                    vcpu.setRegs(X86Regs.reset().withRip(plan.entryPoint()).withRsp(X86Layout.BOOT_STACK_POINTER)
                            .withRbx(plan.bootInfo()));
                }
            }
            vcpu.setMpState(MpState.RUNNABLE);
        } else {
            vcpu.setMpState(MpState.UNINITIALIZED);
        }
    }

    /** The MSR values firmware would leave: SYSCALL/SYSENTER unset, TSC 0, fast strings on, MTRRs write-back. */
    public static List<Msr> bootMsrs() {
        return List.of(
                new Msr(MSR_IA32_SYSENTER_CS, 0), new Msr(MSR_IA32_SYSENTER_ESP, 0), new Msr(MSR_IA32_SYSENTER_EIP, 0),
                new Msr(MSR_STAR, 0), new Msr(MSR_CSTAR, 0), new Msr(MSR_KERNEL_GS_BASE, 0),
                new Msr(MSR_SYSCALL_MASK, 0), new Msr(MSR_LSTAR, 0), new Msr(MSR_IA32_TSC, 0),
                new Msr(MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
                new Msr(MSR_MTRR_DEF_TYPE, MTRR_ENABLED_WRITE_BACK));
    }

    /** {@code lapic} with LINT0 delivering ExtINT and LINT1 NMI; masks and other bits are kept. */
    public static LapicState withLocalInterrupts(LapicState lapic) {
        int lint0 = (lapic.register(APIC_LVT_LINT0) & ~DELIVERY_MODE_MASK) | DELIVERY_EXTINT;
        int lint1 = (lapic.register(APIC_LVT_LINT1) & ~DELIVERY_MODE_MASK) | DELIVERY_NMI;
        return lapic.withRegister(APIC_LVT_LINT0, lint0).withRegister(APIC_LVT_LINT1, lint1);
    }

    /** Long mode on the boot GDT and page tables; APIC base, CR2, CR8 and pending interrupts as they were. */
    public static X86Sregs longMode(X86Sregs current) {
        long[] gdt = Gdt.longMode();
        return sregs(current, gdt, CR0_PE | CR0_ET | CR0_NE | CR0_PG, X86Layout.PML4, CR4_PAE, EFER_LME | EFER_LMA);
    }

    /** 32-bit protected mode, paging off, on the PVH boot GDT. */
    public static X86Sregs protectedMode(X86Sregs current) {
        long[] gdt = Gdt.protectedMode();
        return sregs(current, gdt, CR0_PE | CR0_ET, 0, 0, 0);
    }

    private static X86Sregs sregs(X86Sregs current, long[] gdt, long cr0, long cr3, long cr4, long efer) {
        X86Segment code = Gdt.segment(gdt[Gdt.CODE_SELECTOR / 8], Gdt.CODE_SELECTOR);
        X86Segment data = Gdt.segment(gdt[Gdt.DATA_SELECTOR / 8], Gdt.DATA_SELECTOR);
        X86Segment tss = Gdt.segment(gdt[Gdt.TSS_SELECTOR / 8], Gdt.TSS_SELECTOR);
        X86Segment ldt = new X86Segment(0, 0, 0, 2, false, 0, false, false, false, false, false, true);
        return new X86Sregs(code, data, data, data, data, data, tss, ldt,
                new X86DescriptorTable(X86Layout.GDT, gdt.length * 8 - 1), new X86DescriptorTable(X86Layout.IDT, 7),
                cr0, current.cr2(), cr3, cr4, current.cr8(), efer, current.apicBase(), current.interruptBitmap());
    }
}
