package dev.nimbus.kvm.fd;

import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.kvm.abi.X86KvmStructs;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The x86-64 register records to and from KVM's structs: each field lands at its offset in the kernel's
 * struct (the numbers below are arch/x86/include/uapi/asm/kvm.h's, worked out by hand) and reads back.
 */
class X86CodecTest {
    private static MemorySegment zeroed(long size) {
        return Arena.ofAuto().allocate(size, 8);
    }

    @Test
    void regsGoToKvmRegsInHeaderOrder() {
        X86Regs regs = new X86Regs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xffff_8000_0000_1000L, 0x202);
        MemorySegment s = zeroed(X86KvmStructs.KVM_REGS.byteSize());

        X86Codec.writeRegs(regs, s);

        assertThat(s.get(JAVA_LONG, 0)).isEqualTo(1);                        // rax
        assertThat(s.get(JAVA_LONG, 6 * 8)).isEqualTo(7);                    // rsp
        assertThat(s.get(JAVA_LONG, 15 * 8)).isEqualTo(16);                   // r15
        assertThat(s.get(JAVA_LONG, 128)).isEqualTo(0xffff_8000_0000_1000L);  // rip
        assertThat(s.get(JAVA_LONG, 136)).isEqualTo(0x202);                   // rflags
        assertThat(X86Codec.readRegs(s)).isEqualTo(regs);
    }

    @Test
    void sregsGoToKvmSregsInHeaderOrder() {
        X86Segment code = new X86Segment(0, 0xffff_ffff, 0x10, 0xb, true, 0, false, true, true, true, false, false);
        X86Segment data = new X86Segment(0x1000, 0xfffff, 0x18, 0x3, true, 3, true, true, false, true, true, false);
        X86Segment tss = new X86Segment(0x2000, 0x67, 0x28, 0xb, true, 0, false, false, false, false, false, false);
        X86Segment ldt = new X86Segment(0, 0xffff, 0, 0x2, false, 0, false, false, false, false, false, true);
        X86Sregs sregs = new X86Sregs(code, data, data, data, data, data, tss, ldt,
                new X86DescriptorTable(0x500, 0x27), new X86DescriptorTable(0x600, 0xfff),
                0x8005_0033L, 0x22, 0x9000, 0x6a0, 0x1, 0xd01, 0xfee0_0900L, new long[] {1, 2, 3, 1L << 63});
        MemorySegment s = zeroed(X86KvmStructs.KVM_SREGS.byteSize());

        X86Codec.writeSregs(sregs, s);

        assertThat(s.get(JAVA_SHORT, 12)).isEqualTo((short) 0x10);       // cs.selector
        assertThat(s.get(JAVA_BYTE, 19)).isEqualTo((byte) 1);            // cs.l
        assertThat(s.get(JAVA_LONG, 24)).isEqualTo(0x1000);              // ds.base (kvm_segment is 24 bytes)
        assertThat(s.get(JAVA_BYTE, 24 + 16)).isEqualTo((byte) 3);       // ds.dpl
        assertThat(s.get(JAVA_INT, 6 * 24 + 8)).isEqualTo(0x67);         // tr.limit
        assertThat(s.get(JAVA_BYTE, 7 * 24 + 22)).isEqualTo((byte) 1);   // ldt.unusable
        assertThat(s.get(JAVA_LONG, 192)).isEqualTo(0x500);              // gdt.base
        assertThat(s.get(JAVA_SHORT, 208 + 8)).isEqualTo((short) 0xfff); // idt.limit
        assertThat(s.get(JAVA_LONG, 224)).isEqualTo(0x8005_0033L);       // cr0
        assertThat(s.get(JAVA_LONG, 264)).isEqualTo(0xd01);              // efer
        assertThat(s.get(JAVA_LONG, 280 + 3 * 8)).isEqualTo(1L << 63);   // interrupt_bitmap[3]
        assertThat(X86Codec.readSregs(s)).usingRecursiveComparison().isEqualTo(sregs);
    }

    @Test
    void fpuGoesToKvmFpuInHeaderOrder() {
        byte[] fpr = new byte[128];
        byte[] xmm = new byte[256];
        fpr[0] = 0x11;
        xmm[255] = 0x22;
        X86Fpu fpu = new X86Fpu(fpr, 0x37f, 0x4000, 0xff, 0x7d9, 0x1234, 0x5678, xmm, 0x1f80);
        MemorySegment s = zeroed(X86KvmStructs.KVM_FPU.byteSize());

        X86Codec.writeFpu(fpu, s);

        assertThat(s.get(JAVA_BYTE, 0)).isEqualTo((byte) 0x11);    // fpr[0]
        assertThat(s.get(JAVA_SHORT, 128)).isEqualTo((short) 0x37f); // fcw
        assertThat(s.get(JAVA_BYTE, 132)).isEqualTo((byte) 0xff);    // ftwx
        assertThat(s.get(JAVA_SHORT, 134)).isEqualTo((short) 0x7d9); // last_opcode
        assertThat(s.get(JAVA_LONG, 144)).isEqualTo(0x5678);         // last_dp
        assertThat(s.get(JAVA_BYTE, 152 + 255)).isEqualTo((byte) 0x22); // xmm[255]
        assertThat(s.get(JAVA_INT, 408)).isEqualTo(0x1f80);          // mxcsr
        assertThat(X86Codec.readFpu(s)).usingRecursiveComparison().isEqualTo(fpu);
    }

    @Test
    void cpuidEntryGoesToKvmCpuidEntry2InHeaderOrder() {
        CpuidEntry e = new CpuidEntry(0xd, 1, true, 0xa, 0xb, 0xc, 0xe);
        MemorySegment s = zeroed(X86KvmStructs.KVM_CPUID_ENTRY2.byteSize());

        X86Codec.writeCpuid(e, s);

        assertThat(s.get(JAVA_INT, 4)).isEqualTo(1);    // index
        assertThat(s.get(JAVA_INT, 8)).isEqualTo(1);    // flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX
        assertThat(s.get(JAVA_INT, 24)).isEqualTo(0xe); // edx
        assertThat(X86Codec.readCpuid(s)).isEqualTo(e);
    }
}
