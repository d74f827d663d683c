package dev.nimbus.kvm.fd;

import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.X86KvmStructs;

import java.lang.foreign.MemorySegment;

import static dev.nimbus.kvm.abi.CLayouts.offsetOf;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_CPUID_ENTRY2;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_FPU;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_REGS;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_SEGMENT;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_SREGS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** Converts between the x86-64 register records of the SPI and KVM's structs. No I/O. */
public final class X86Codec {
    private X86Codec() {}

    private static final String[] REG_NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
    private static final long[] REG_OFFSETS = new long[REG_NAMES.length];
    private static final String[] SEGMENTS = {"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"};
    private static final long[] SEGMENT_OFFSETS = new long[SEGMENTS.length];

    static {
        for (int i = 0; i < REG_NAMES.length; i++) {
            REG_OFFSETS[i] = offsetOf(KVM_REGS, REG_NAMES[i]);
        }
        for (int i = 0; i < SEGMENTS.length; i++) {
            SEGMENT_OFFSETS[i] = offsetOf(KVM_SREGS, SEGMENTS[i]);
        }
    }

    public static X86Regs readRegs(MemorySegment s) {
        long[] v = new long[REG_NAMES.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = s.get(JAVA_LONG, REG_OFFSETS[i]);
        }
        return new X86Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
                v[13], v[14], v[15], v[16], v[17]);
    }

    public static void writeRegs(X86Regs r, MemorySegment s) {
        long[] v = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(),
            r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        for (int i = 0; i < v.length; i++) {
            s.set(JAVA_LONG, REG_OFFSETS[i], v[i]);
        }
    }

    private static boolean flag(MemorySegment s, long base, String name) {
        return s.get(JAVA_BYTE, base + offsetOf(KVM_SEGMENT, name)) != 0;
    }

    private static void flag(MemorySegment s, long base, String name, boolean v) {
        s.set(JAVA_BYTE, base + offsetOf(KVM_SEGMENT, name), (byte) (v ? 1 : 0));
    }

    static X86Segment readSegment(MemorySegment s, long base) {
        return new X86Segment(
                s.get(JAVA_LONG, base + X86KvmStructs.SEGMENT_BASE),
                s.get(JAVA_INT, base + X86KvmStructs.SEGMENT_LIMIT),
                Short.toUnsignedInt(s.get(JAVA_SHORT, base + X86KvmStructs.SEGMENT_SELECTOR)),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, base + X86KvmStructs.SEGMENT_TYPE)),
                flag(s, base, "present"),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, base + offsetOf(KVM_SEGMENT, "dpl"))),
                flag(s, base, "db"), flag(s, base, "s"), flag(s, base, "l"), flag(s, base, "g"),
                flag(s, base, "avl"), flag(s, base, "unusable"));
    }

    static void writeSegment(X86Segment g, MemorySegment s, long base) {
        s.set(JAVA_LONG, base + X86KvmStructs.SEGMENT_BASE, g.base());
        s.set(JAVA_INT, base + X86KvmStructs.SEGMENT_LIMIT, g.limit());
        s.set(JAVA_SHORT, base + X86KvmStructs.SEGMENT_SELECTOR, (short) g.selector());
        s.set(JAVA_BYTE, base + X86KvmStructs.SEGMENT_TYPE, (byte) g.type());
        flag(s, base, "present", g.present());
        s.set(JAVA_BYTE, base + offsetOf(KVM_SEGMENT, "dpl"), (byte) g.dpl());
        flag(s, base, "db", g.db());
        flag(s, base, "s", g.s());
        flag(s, base, "l", g.l());
        flag(s, base, "g", g.g());
        flag(s, base, "avl", g.avl());
        flag(s, base, "unusable", g.unusable());
    }

    private static X86DescriptorTable readTable(MemorySegment s, long base) {
        return new X86DescriptorTable(s.get(JAVA_LONG, base + X86KvmStructs.DTABLE_BASE),
                Short.toUnsignedInt(s.get(JAVA_SHORT, base + X86KvmStructs.DTABLE_LIMIT)));
    }

    private static void writeTable(X86DescriptorTable t, MemorySegment s, long base) {
        s.set(JAVA_LONG, base + X86KvmStructs.DTABLE_BASE, t.base());
        s.set(JAVA_SHORT, base + X86KvmStructs.DTABLE_LIMIT, (short) t.limit());
    }

    public static X86Sregs readSregs(MemorySegment s) {
        X86Segment[] seg = new X86Segment[SEGMENTS.length];
        for (int i = 0; i < seg.length; i++) {
            seg[i] = readSegment(s, SEGMENT_OFFSETS[i]);
        }
        long[] bitmap = new long[4];
        long bm = offsetOf(KVM_SREGS, "interrupt_bitmap");
        for (int i = 0; i < 4; i++) {
            bitmap[i] = s.get(JAVA_LONG, bm + 8L * i);
        }
        return new X86Sregs(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
                readTable(s, offsetOf(KVM_SREGS, "gdt")), readTable(s, offsetOf(KVM_SREGS, "idt")),
                s.get(JAVA_LONG, offsetOf(KVM_SREGS, "cr0")), s.get(JAVA_LONG, offsetOf(KVM_SREGS, "cr2")),
                s.get(JAVA_LONG, offsetOf(KVM_SREGS, "cr3")), s.get(JAVA_LONG, offsetOf(KVM_SREGS, "cr4")),
                s.get(JAVA_LONG, offsetOf(KVM_SREGS, "cr8")), s.get(JAVA_LONG, offsetOf(KVM_SREGS, "efer")),
                s.get(JAVA_LONG, offsetOf(KVM_SREGS, "apic_base")), bitmap);
    }

    public static void writeSregs(X86Sregs r, MemorySegment s) {
        X86Segment[] seg = {r.cs(), r.ds(), r.es(), r.fs(), r.gs(), r.ss(), r.tr(), r.ldt()};
        for (int i = 0; i < seg.length; i++) {
            writeSegment(seg[i], s, SEGMENT_OFFSETS[i]);
        }
        writeTable(r.gdt(), s, offsetOf(KVM_SREGS, "gdt"));
        writeTable(r.idt(), s, offsetOf(KVM_SREGS, "idt"));
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "cr0"), r.cr0());
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "cr2"), r.cr2());
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "cr3"), r.cr3());
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "cr4"), r.cr4());
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "cr8"), r.cr8());
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "efer"), r.efer());
        s.set(JAVA_LONG, offsetOf(KVM_SREGS, "apic_base"), r.apicBase());
        long[] bitmap = r.interruptBitmap();
        long bm = offsetOf(KVM_SREGS, "interrupt_bitmap");
        for (int i = 0; i < 4; i++) {
            s.set(JAVA_LONG, bm + 8L * i, bitmap[i]);
        }
    }

    public static X86Fpu readFpu(MemorySegment s) {
        byte[] fpr = new byte[128];
        byte[] xmm = new byte[256];
        MemorySegment.copy(s, JAVA_BYTE, offsetOf(KVM_FPU, "fpr"), fpr, 0, 128);
        MemorySegment.copy(s, JAVA_BYTE, offsetOf(KVM_FPU, "xmm"), xmm, 0, 256);
        return new X86Fpu(fpr,
                Short.toUnsignedInt(s.get(JAVA_SHORT, offsetOf(KVM_FPU, "fcw"))),
                Short.toUnsignedInt(s.get(JAVA_SHORT, offsetOf(KVM_FPU, "fsw"))),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, offsetOf(KVM_FPU, "ftwx"))),
                Short.toUnsignedInt(s.get(JAVA_SHORT, offsetOf(KVM_FPU, "last_opcode"))),
                s.get(JAVA_LONG, offsetOf(KVM_FPU, "last_ip")), s.get(JAVA_LONG, offsetOf(KVM_FPU, "last_dp")),
                xmm, s.get(JAVA_INT, offsetOf(KVM_FPU, "mxcsr")));
    }

    public static void writeFpu(X86Fpu f, MemorySegment s) {
        MemorySegment.copy(f.fpr(), 0, s, JAVA_BYTE, offsetOf(KVM_FPU, "fpr"), 128);
        MemorySegment.copy(f.xmm(), 0, s, JAVA_BYTE, offsetOf(KVM_FPU, "xmm"), 256);
        s.set(JAVA_SHORT, offsetOf(KVM_FPU, "fcw"), (short) f.fcw());
        s.set(JAVA_SHORT, offsetOf(KVM_FPU, "fsw"), (short) f.fsw());
        s.set(JAVA_BYTE, offsetOf(KVM_FPU, "ftwx"), (byte) f.ftwx());
        s.set(JAVA_SHORT, offsetOf(KVM_FPU, "last_opcode"), (short) f.lastOpcode());
        s.set(JAVA_LONG, offsetOf(KVM_FPU, "last_ip"), f.lastIp());
        s.set(JAVA_LONG, offsetOf(KVM_FPU, "last_dp"), f.lastDp());
        s.set(JAVA_INT, offsetOf(KVM_FPU, "mxcsr"), f.mxcsr());
    }

    public static CpuidEntry readCpuid(MemorySegment s) {
        int flags = s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "flags"));
        return new CpuidEntry(s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "function")),
                s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "index")),
                (flags & KvmConstants.KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0,
                s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "eax")), s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "ebx")),
                s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "ecx")), s.get(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "edx")));
    }

    public static void writeCpuid(CpuidEntry e, MemorySegment s) {
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "function"), e.function());
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "index"), e.index());
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "flags"), e.indexed() ? KvmConstants.KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0);
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "eax"), e.eax());
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "ebx"), e.ebx());
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "ecx"), e.ecx());
        s.set(JAVA_INT, offsetOf(KVM_CPUID_ENTRY2, "edx"), e.edx());
    }


}
