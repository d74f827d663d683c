package dev.nimbus.kvm;

import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.kvm.abi.KvmStructs;
import dev.nimbus.kvm.abi.X86KvmStructs;
import dev.nimbus.kvm.fd.X86Codec;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a restore of an x86-64 vCPU checks before it sets anything: no KVM needed. */
class X86VcpuStateTest {
    private static final int AVX2 = 1 << 5;             // leaf 7.0 EBX
    private static final int AVX512F = 1 << 16;         // leaf 7.0 EBX
    private static final int SSE3 = 1;                  // leaf 1 ECX
    private static final int OSXSAVE = 1 << 27;         // leaf 1 ECX, follows CR4.OSXSAVE
    private static final int HYPERVISOR = 1 << 31;      // leaf 1 ECX, the VMM's

    private static final List<CpuidEntry> HOST = List.of(
            new CpuidEntry(0x1, 0, false, 0, 0, SSE3, 0),
            new CpuidEntry(0x7, 0, true, 0, AVX2, 0, 0));

    private static byte[] cpuid2(List<CpuidEntry> entries) {
        long header = X86KvmStructs.KVM_CPUID2.byteSize();
        long size = X86KvmStructs.KVM_CPUID_ENTRY2.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(header + size * entries.size(), 8);
            s.set(JAVA_INT, X86KvmStructs.CPUID2_NENT, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                X86Codec.writeCpuid(entries.get(i), s.asSlice(header + i * size, size));
            }
            return s.toArray(JAVA_BYTE);
        }
    }

    private static byte[] msrs(int n) {
        byte[] b = new byte[(int) (X86KvmStructs.KVM_MSRS.byteSize() + n * X86KvmStructs.KVM_MSR_ENTRY.byteSize())];
        MemorySegment.ofArray(b).set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, X86KvmStructs.MSRS_NMSRS, n);
        return b;
    }

    private static StateRecord rec(String id, byte[] data) {
        return new StateRecord(id, 1, data);
    }

    private static StateRecord rec(String id, java.lang.foreign.MemoryLayout struct) {
        return rec(id, new byte[(int) struct.byteSize()]);
    }

    /** A whole, valid set of records, with {@code guestCpuid} as the CPUID the guest had. */
    private static List<StateRecord> records(List<CpuidEntry> guestCpuid) {
        return new ArrayList<>(List.of(
                rec(X86VcpuState.MP_STATE, KvmStructs.KVM_MP_STATE),
                rec(X86VcpuState.REGS, X86KvmStructs.KVM_REGS),
                rec(X86VcpuState.SREGS, X86KvmStructs.KVM_SREGS),
                rec(X86VcpuState.XSAVE, X86KvmStructs.KVM_XSAVE),
                rec(X86VcpuState.XCRS, X86KvmStructs.KVM_XCRS),
                rec(X86VcpuState.DEBUGREGS, X86KvmStructs.KVM_DEBUGREGS),
                rec(X86VcpuState.LAPIC, X86KvmStructs.KVM_LAPIC_STATE),
                rec(X86VcpuState.MSRS, msrs(3)),
                rec(X86VcpuState.VCPU_EVENTS, X86KvmStructs.KVM_VCPU_EVENTS),
                rec(X86VcpuState.CPUID, cpuid2(guestCpuid))));
    }

    private static List<StateRecord> replaced(List<StateRecord> records, StateRecord with) {
        List<StateRecord> out = new ArrayList<>(records);
        out.replaceAll(r -> r.id().equals(with.id()) ? with : r);
        return out;
    }

    @Test
    void aWholeSetOfRecordsPassesWithEachStructsBytes() {
        X86VcpuState.Checked c = X86VcpuState.check(records(HOST), 4096, HOST);

        assertThat(c.regs()).hasSize((int) X86KvmStructs.KVM_REGS.byteSize());
        assertThat(c.msrCount()).isEqualTo(3);
        assertThat(X86VcpuState.cpuidEntries(c.cpuid())).isEqualTo(HOST);
    }

    @Test
    void everyRecordShortenedByOneByteIsRefusedNamingIt() {
        for (StateRecord r : records(HOST)) {
            byte[] data = r.data();
            List<StateRecord> truncated = replaced(records(HOST), rec(r.id(), Arrays.copyOf(data, data.length - 1)));

            assertThatThrownBy(() -> X86VcpuState.check(truncated, 4096, HOST))
                    .isInstanceOf(StateException.class)
                    .hasMessageStartingWith(r.id() + ": " + (data.length - 1) + " bytes");
        }
    }

    @Test
    void aMissingRecordIsNamed() {
        List<StateRecord> records = records(HOST);
        records.removeIf(r -> r.id().equals(X86VcpuState.LAPIC));

        assertThatThrownBy(() -> X86VcpuState.check(records, 4096, HOST))
                .isInstanceOf(StateException.class).hasMessage("kvm-x86-lapic: missing from the saved state");
    }

    @Test
    void aRecordOfAnotherVersionIsNamed() {
        List<StateRecord> records = replaced(records(HOST),
                new StateRecord(X86VcpuState.SREGS, 2, new byte[(int) X86KvmStructs.KVM_SREGS.byteSize()]));

        assertThatThrownBy(() -> X86VcpuState.check(records, 4096, HOST))
                .isInstanceOf(StateException.class).hasMessageContaining("kvm-x86-sregs: state version 2");
    }

    @Test
    void anMsrCountThatDisagreesWithTheLengthIsRefused() {
        byte[] msrs = msrs(3);
        MemorySegment.ofArray(msrs).set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, X86KvmStructs.MSRS_NMSRS, 4);

        assertThatThrownBy(() -> X86VcpuState.check(replaced(records(HOST), rec(X86VcpuState.MSRS, msrs)), 4096, HOST))
                .isInstanceOf(StateException.class).hasMessage("kvm-x86-msrs: 56 bytes, expected 72 for its 4 MSRs");
    }

    @Test
    void anXsaveAreaLargerThanThisHostsIsRefused() {
        List<StateRecord> records = replaced(records(HOST), rec(X86VcpuState.XSAVE, new byte[8192]));

        assertThatThrownBy(() -> X86VcpuState.check(records, 4096, HOST))
                .isInstanceOf(StateException.class).hasMessageContaining("kvm-x86-xsave: 8192 bytes")
                .hasMessageContaining("at most 4096");
        assertThat(X86VcpuState.check(records, 8192, HOST).xsave()).hasSize(8192);
    }

    @Test
    void debugRegistersWithFlagsAreRefused() {
        byte[] dr = new byte[(int) X86KvmStructs.KVM_DEBUGREGS.byteSize()];
        dr[(int) X86KvmStructs.DEBUGREGS_FLAGS] = 1;

        assertThatThrownBy(() -> X86VcpuState.check(replaced(records(HOST), rec(X86VcpuState.DEBUGREGS, dr)), 4096, HOST))
                .isInstanceOf(StateException.class).hasMessageStartingWith("kvm-x86-debugregs:");
    }

    @Test
    void aCpuidFeatureThisHostLacksIsRefusedNamingLeafRegisterAndBit() {
        List<CpuidEntry> guest = List.of(new CpuidEntry(0x1, 0, false, 0, 0, SSE3, 0),
                new CpuidEntry(0x7, 0, true, 0, AVX2 | AVX512F, 0, 0));

        assertThatThrownBy(() -> X86VcpuState.check(records(guest), 4096, HOST))
                .isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-cpuid: the saved guest has CPUID features this host's KVM does not offer: "
                        + "leaf 0x7.0 EBX bit 16 (0x00010000)");
    }

    @Test
    void aLeafThisHostDoesNotHaveAtAllLacksEveryBit() {
        List<CpuidEntry> guest = List.of(new CpuidEntry(0x8000_0001, 0, false, 0, 0, 0x21, 0));

        assertThatThrownBy(() -> X86VcpuState.check(records(guest), 4096, HOST))
                .isInstanceOf(StateException.class).hasMessageEndingWith("leaf 0x80000001 ECX bits 0, 5 (0x00000021)");
    }

    @Test
    void theTscFrequencyIsOptionalAndReadWhenThere() {
        assertThat(X86VcpuState.check(records(HOST), 4096, HOST).hasTscKhz()).as("a host that could not say").isFalse();

        List<StateRecord> records = records(HOST);
        records.add(X86VcpuState.tscKhzRecord(2_995_200));
        X86VcpuState.Checked c = X86VcpuState.check(records, 4096, HOST);

        assertThat(c.hasTscKhz()).isTrue();
        assertThat(c.tscKhz()).isEqualTo(2_995_200);
    }

    @Test
    void aTscFrequencyOfZeroOrOfAnotherSizeIsRefused() {
        List<StateRecord> zero = records(HOST);
        zero.add(X86VcpuState.tscKhzRecord(0));
        List<StateRecord> negative = records(HOST);
        negative.add(X86VcpuState.tscKhzRecord(-1));
        List<StateRecord> wide = records(HOST);
        wide.add(rec(X86VcpuState.TSC_KHZ, new byte[8]));

        assertThatThrownBy(() -> X86VcpuState.check(zero, 4096, HOST)).isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-tsc-khz: 0 kHz is no TSC frequency");
        assertThatThrownBy(() -> X86VcpuState.check(negative, 4096, HOST)).isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-tsc-khz: 4294967295 kHz is no TSC frequency");
        assertThatThrownBy(() -> X86VcpuState.check(wide, 4096, HOST)).isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-tsc-khz: 8 bytes, expected 4");
    }

    @Test
    void bitsKvmOrTheVmmSetThemselvesAreNoHostFeature() {
        List<CpuidEntry> guest = List.of(new CpuidEntry(0x1, 0, false, 0, 0, SSE3 | OSXSAVE | HYPERVISOR, 1 << 28),
                new CpuidEntry(0x7, 0, true, 0, AVX2, 1 << 4, 0));

        assertThat(X86VcpuState.check(records(guest), 4096, HOST)).isNotNull();
    }
}
