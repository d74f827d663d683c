package dev.nimbus.kvm.fd;

import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.kvm.abi.KvmConstants;

import java.lang.foreign.MemorySegment;

import static dev.nimbus.kvm.abi.X86KvmStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** Converts between the x86-64 register records of the SPI and KVM's structs. No I/O. */
public final class X86Codec {
    private X86Codec() {}

    /** The eight segment registers of {@code kvm_sregs}, in the order of {@link X86Sregs}'s components. */
    private static final long[] SEGMENTS = {SREGS_CS, SREGS_DS, SREGS_ES, SREGS_FS, SREGS_GS, SREGS_SS, SREGS_TR,
        SREGS_LDT};
    private static final int INTERRUPT_BITMAP_WORDS = 4;

    public static X86Regs readRegs(MemorySegment s) {
        return new X86Regs(s.get(JAVA_LONG, REGS_RAX), s.get(JAVA_LONG, REGS_RBX), s.get(JAVA_LONG, REGS_RCX),
                s.get(JAVA_LONG, REGS_RDX), s.get(JAVA_LONG, REGS_RSI), s.get(JAVA_LONG, REGS_RDI),
                s.get(JAVA_LONG, REGS_RSP), s.get(JAVA_LONG, REGS_RBP), s.get(JAVA_LONG, REGS_R8),
                s.get(JAVA_LONG, REGS_R9), s.get(JAVA_LONG, REGS_R10), s.get(JAVA_LONG, REGS_R11),
                s.get(JAVA_LONG, REGS_R12), s.get(JAVA_LONG, REGS_R13), s.get(JAVA_LONG, REGS_R14),
                s.get(JAVA_LONG, REGS_R15), s.get(JAVA_LONG, REGS_RIP), s.get(JAVA_LONG, REGS_RFLAGS));
    }

    public static void writeRegs(X86Regs r, MemorySegment s) {
        s.set(JAVA_LONG, REGS_RAX, r.rax());
        s.set(JAVA_LONG, REGS_RBX, r.rbx());
        s.set(JAVA_LONG, REGS_RCX, r.rcx());
        s.set(JAVA_LONG, REGS_RDX, r.rdx());
        s.set(JAVA_LONG, REGS_RSI, r.rsi());
        s.set(JAVA_LONG, REGS_RDI, r.rdi());
        s.set(JAVA_LONG, REGS_RSP, r.rsp());
        s.set(JAVA_LONG, REGS_RBP, r.rbp());
        s.set(JAVA_LONG, REGS_R8, r.r8());
        s.set(JAVA_LONG, REGS_R9, r.r9());
        s.set(JAVA_LONG, REGS_R10, r.r10());
        s.set(JAVA_LONG, REGS_R11, r.r11());
        s.set(JAVA_LONG, REGS_R12, r.r12());
        s.set(JAVA_LONG, REGS_R13, r.r13());
        s.set(JAVA_LONG, REGS_R14, r.r14());
        s.set(JAVA_LONG, REGS_R15, r.r15());
        s.set(JAVA_LONG, REGS_RIP, r.rip());
        s.set(JAVA_LONG, REGS_RFLAGS, r.rflags());
    }

    private static boolean flag(MemorySegment s, long at) {
        return s.get(JAVA_BYTE, at) != 0;
    }

    private static void flag(MemorySegment s, long at, boolean v) {
        s.set(JAVA_BYTE, at, (byte) (v ? 1 : 0));
    }

    static X86Segment readSegment(MemorySegment s, long base) {
        return new X86Segment(
                s.get(JAVA_LONG, base + SEGMENT_BASE),
                s.get(JAVA_INT, base + SEGMENT_LIMIT),
                Short.toUnsignedInt(s.get(JAVA_SHORT, base + SEGMENT_SELECTOR)),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, base + SEGMENT_TYPE)),
                flag(s, base + SEGMENT_PRESENT),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, base + SEGMENT_DPL)),
                flag(s, base + SEGMENT_DB), flag(s, base + SEGMENT_S), flag(s, base + SEGMENT_L),
                flag(s, base + SEGMENT_G), flag(s, base + SEGMENT_AVL), flag(s, base + SEGMENT_UNUSABLE));
    }

    static void writeSegment(X86Segment g, MemorySegment s, long base) {
        s.set(JAVA_LONG, base + SEGMENT_BASE, g.base());
        s.set(JAVA_INT, base + SEGMENT_LIMIT, g.limit());
        s.set(JAVA_SHORT, base + SEGMENT_SELECTOR, (short) g.selector());
        s.set(JAVA_BYTE, base + SEGMENT_TYPE, (byte) g.type());
        flag(s, base + SEGMENT_PRESENT, g.present());
        s.set(JAVA_BYTE, base + SEGMENT_DPL, (byte) g.dpl());
        flag(s, base + SEGMENT_DB, g.db());
        flag(s, base + SEGMENT_S, g.s());
        flag(s, base + SEGMENT_L, g.l());
        flag(s, base + SEGMENT_G, g.g());
        flag(s, base + SEGMENT_AVL, g.avl());
        flag(s, base + SEGMENT_UNUSABLE, g.unusable());
    }

    private static X86DescriptorTable readTable(MemorySegment s, long base) {
        return new X86DescriptorTable(s.get(JAVA_LONG, base + DTABLE_BASE),
                Short.toUnsignedInt(s.get(JAVA_SHORT, base + DTABLE_LIMIT)));
    }

    private static void writeTable(X86DescriptorTable t, MemorySegment s, long base) {
        s.set(JAVA_LONG, base + DTABLE_BASE, t.base());
        s.set(JAVA_SHORT, base + DTABLE_LIMIT, (short) t.limit());
    }

    public static X86Sregs readSregs(MemorySegment s) {
        X86Segment[] seg = new X86Segment[SEGMENTS.length];
        for (int i = 0; i < seg.length; i++) {
            seg[i] = readSegment(s, SEGMENTS[i]);
        }
        long[] bitmap = new long[INTERRUPT_BITMAP_WORDS];
        for (int i = 0; i < bitmap.length; i++) {
            bitmap[i] = s.get(JAVA_LONG, SREGS_INTERRUPT_BITMAP + 8L * i);
        }
        return new X86Sregs(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
                readTable(s, SREGS_GDT), readTable(s, SREGS_IDT),
                s.get(JAVA_LONG, SREGS_CR0), s.get(JAVA_LONG, SREGS_CR2), s.get(JAVA_LONG, SREGS_CR3),
                s.get(JAVA_LONG, SREGS_CR4), s.get(JAVA_LONG, SREGS_CR8), s.get(JAVA_LONG, SREGS_EFER),
                s.get(JAVA_LONG, SREGS_APIC_BASE), bitmap);
    }

    public static void writeSregs(X86Sregs r, MemorySegment s) {
        X86Segment[] seg = {r.cs(), r.ds(), r.es(), r.fs(), r.gs(), r.ss(), r.tr(), r.ldt()};
        for (int i = 0; i < seg.length; i++) {
            writeSegment(seg[i], s, SEGMENTS[i]);
        }
        writeTable(r.gdt(), s, SREGS_GDT);
        writeTable(r.idt(), s, SREGS_IDT);
        s.set(JAVA_LONG, SREGS_CR0, r.cr0());
        s.set(JAVA_LONG, SREGS_CR2, r.cr2());
        s.set(JAVA_LONG, SREGS_CR3, r.cr3());
        s.set(JAVA_LONG, SREGS_CR4, r.cr4());
        s.set(JAVA_LONG, SREGS_CR8, r.cr8());
        s.set(JAVA_LONG, SREGS_EFER, r.efer());
        s.set(JAVA_LONG, SREGS_APIC_BASE, r.apicBase());
        long[] bitmap = r.interruptBitmap();
        for (int i = 0; i < INTERRUPT_BITMAP_WORDS; i++) {
            s.set(JAVA_LONG, SREGS_INTERRUPT_BITMAP + 8L * i, bitmap[i]);
        }
    }

    public static X86Fpu readFpu(MemorySegment s) {
        byte[] fpr = new byte[128];
        byte[] xmm = new byte[256];
        MemorySegment.copy(s, JAVA_BYTE, FPU_FPR, fpr, 0, 128);
        MemorySegment.copy(s, JAVA_BYTE, FPU_XMM, xmm, 0, 256);
        return new X86Fpu(fpr,
                Short.toUnsignedInt(s.get(JAVA_SHORT, FPU_FCW)),
                Short.toUnsignedInt(s.get(JAVA_SHORT, FPU_FSW)),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, FPU_FTWX)),
                Short.toUnsignedInt(s.get(JAVA_SHORT, FPU_LAST_OPCODE)),
                s.get(JAVA_LONG, FPU_LAST_IP), s.get(JAVA_LONG, FPU_LAST_DP),
                xmm, s.get(JAVA_INT, FPU_MXCSR));
    }

    public static void writeFpu(X86Fpu f, MemorySegment s) {
        MemorySegment.copy(f.fpr(), 0, s, JAVA_BYTE, FPU_FPR, 128);
        MemorySegment.copy(f.xmm(), 0, s, JAVA_BYTE, FPU_XMM, 256);
        s.set(JAVA_SHORT, FPU_FCW, (short) f.fcw());
        s.set(JAVA_SHORT, FPU_FSW, (short) f.fsw());
        s.set(JAVA_BYTE, FPU_FTWX, (byte) f.ftwx());
        s.set(JAVA_SHORT, FPU_LAST_OPCODE, (short) f.lastOpcode());
        s.set(JAVA_LONG, FPU_LAST_IP, f.lastIp());
        s.set(JAVA_LONG, FPU_LAST_DP, f.lastDp());
        s.set(JAVA_INT, FPU_MXCSR, f.mxcsr());
    }

    public static CpuidEntry readCpuid(MemorySegment s) {
        int flags = s.get(JAVA_INT, CPUID_ENTRY2_FLAGS);
        return new CpuidEntry(s.get(JAVA_INT, CPUID_ENTRY2_FUNCTION), s.get(JAVA_INT, CPUID_ENTRY2_INDEX),
                (flags & KvmConstants.KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0,
                s.get(JAVA_INT, CPUID_ENTRY2_EAX), s.get(JAVA_INT, CPUID_ENTRY2_EBX),
                s.get(JAVA_INT, CPUID_ENTRY2_ECX), s.get(JAVA_INT, CPUID_ENTRY2_EDX));
    }

    public static void writeCpuid(CpuidEntry e, MemorySegment s) {
        s.set(JAVA_INT, CPUID_ENTRY2_FUNCTION, e.function());
        s.set(JAVA_INT, CPUID_ENTRY2_INDEX, e.index());
        s.set(JAVA_INT, CPUID_ENTRY2_FLAGS, e.indexed() ? KvmConstants.KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0);
        s.set(JAVA_INT, CPUID_ENTRY2_EAX, e.eax());
        s.set(JAVA_INT, CPUID_ENTRY2_EBX, e.ebx());
        s.set(JAVA_INT, CPUID_ENTRY2_ECX, e.ecx());
        s.set(JAVA_INT, CPUID_ENTRY2_EDX, e.edx());
    }
}
