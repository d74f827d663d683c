package dev.nimbus.kvm;

import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.KvmStructs;
import dev.nimbus.kvm.abi.X86KvmStructs;
import dev.nimbus.kvm.fd.X86Codec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The saved state of an x86-64 KVM vCPU: one {@link StateRecord} per kernel struct, each holding the struct's
 * bytes as the get ioctl gave them (version 1 of every id), and the checks a restore makes on them before it sets
 * anything: every record present in this version, each of its struct's size (the variable ones, {@code kvm_msrs}
 * and {@code kvm_cpuid2}, consistent with their counts), the flags the set ioctls insist on, the XSAVE area no
 * larger than this host's, the saved CPUID's feature bits offered by this host's KVM, and the TSC frequency (where
 * one was saved) a frequency. No ioctl here.
 */
final class X86VcpuState {
    private X86VcpuState() {}

    static final int VERSION = 1;
    static final String MP_STATE = "kvm-x86-mp-state";
    static final String REGS = "kvm-x86-regs";
    static final String SREGS = "kvm-x86-sregs";
    static final String XSAVE = "kvm-x86-xsave";
    static final String XCRS = "kvm-x86-xcrs";
    static final String DEBUGREGS = "kvm-x86-debugregs";
    static final String LAPIC = "kvm-x86-lapic";
    static final String MSRS = "kvm-x86-msrs";
    static final String VCPU_EVENTS = "kvm-x86-vcpu-events";
    static final String CPUID = "kvm-x86-cpuid";
    /**
     * The guest's TSC frequency in kHz ({@code KVM_GET_TSC_KHZ}, a little-endian u32). Optional: a host whose KVM
     * cannot say (no {@code KVM_CAP_GET_TSC_KHZ}) saves none, and the restored TSC then runs at the new host's rate.
     */
    static final String TSC_KHZ = "kvm-x86-tsc-khz";

    /** The legacy XSAVE area every KVM with {@code KVM_CAP_XSAVE} moves. */
    static final int LEGACY_XSAVE_SIZE = (int) X86KvmStructs.KVM_XSAVE.byteSize();
    private static final long MSRS_HEADER = X86KvmStructs.KVM_MSRS.byteSize();
    private static final long MSR_ENTRY = X86KvmStructs.KVM_MSR_ENTRY.byteSize();
    private static final long CPUID_HEADER = X86KvmStructs.KVM_CPUID2.byteSize();
    private static final long CPUID_ENTRY = X86KvmStructs.KVM_CPUID_ENTRY2.byteSize();

    /** The records of one vCPU, checked: each the bytes of its struct. */
    record Checked(byte[] mpState, byte[] regs, byte[] sregs, byte[] xsave, byte[] xcrs, byte[] debugRegs,
                   byte[] lapic, byte[] msrs, byte[] vcpuEvents, byte[] cpuid, int tscKhz) {
        /** Whether the records held the guest's TSC frequency ({@link #tscKhz}). */
        boolean hasTscKhz() {
            return tscKhz != 0;
        }

        /** How many MSRs {@link #msrs} holds. */
        int msrCount() {
            return MemorySegment.ofArray(msrs).get(JAVA_INT_UNALIGNED, X86KvmStructs.MSRS_NMSRS);
        }

        /** The index of the {@code i}-th MSR of {@link #msrs}. */
        int msrIndex(int i) {
            return MemorySegment.ofArray(msrs).get(JAVA_INT_UNALIGNED,
                    MSRS_HEADER + i * MSR_ENTRY + X86KvmStructs.MSR_ENTRY_INDEX);
        }

        /** The value of the {@code i}-th MSR of {@link #msrs}. */
        long msrValue(int i) {
            return MemorySegment.ofArray(msrs).get(JAVA_LONG_UNALIGNED,
                    MSRS_HEADER + i * MSR_ENTRY + X86KvmStructs.MSR_ENTRY_DATA);
        }
    }

    /**
     * One CPUID register of feature flags that restore compares with the host's, and the bits in it that are no
     * feature of the host: {@code notFeatures} are bits KVM keeps up to date from the guest's own state, or that
     * the VMM sets to describe the machine, which {@code KVM_GET_SUPPORTED_CPUID} never reports.
     */
    record FeatureWord(int function, int index, String register, int notFeatures) {
        int of(CpuidEntry e) {
            return switch (register) {
                case "EAX" -> e.eax();
                case "EBX" -> e.ebx();
                case "ECX" -> e.ecx();
                case "EDX" -> e.edx();
                default -> throw new IllegalStateException(register);
            };
        }

        String leaf() {
            return function == 0x7 || function == 0xd ? String.format("0x%x.%d", function, index)
                    : String.format("0x%x", function);
        }
    }

    /** Leaf 1 ECX: TSC-deadline timer (24; KVM offers it through KVM_CAP_TSC_DEADLINE_TIMER, with the local APIC). */
    private static final int LEAF1_ECX_TSC_DEADLINE = 1 << 24;
    /** Leaf 1 ECX: OSXSAVE (27), which KVM sets and clears as the guest sets CR4.OSXSAVE. */
    private static final int LEAF1_ECX_OSXSAVE = 1 << 27;
    /** Leaf 1 ECX: "running under a hypervisor" (31), which the VMM sets. */
    private static final int LEAF1_ECX_HYPERVISOR = 1 << 31;
    /** Leaf 1 EDX: HTT (28), the topology the VMM describes. */
    private static final int LEAF1_EDX_HTT = 1 << 28;
    /** Leaf 7.0 ECX: OSPKE (4), which KVM sets and clears as the guest sets CR4.PKE. */
    private static final int LEAF7_ECX_OSPKE = 1 << 4;

    static final List<FeatureWord> FEATURE_WORDS = List.of(
            new FeatureWord(0x1, 0, "ECX", LEAF1_ECX_TSC_DEADLINE | LEAF1_ECX_OSXSAVE | LEAF1_ECX_HYPERVISOR),
            new FeatureWord(0x1, 0, "EDX", LEAF1_EDX_HTT),
            new FeatureWord(0x7, 0, "EBX", 0),
            new FeatureWord(0x7, 0, "ECX", LEAF7_ECX_OSPKE),
            new FeatureWord(0x7, 0, "EDX", 0),
            new FeatureWord(0xd, 1, "EAX", 0),
            new FeatureWord(0x8000_0001, 0, "ECX", 0),
            new FeatureWord(0x8000_0001, 0, "EDX", 0));

    /**
     * Checks the records of one vCPU for a host whose XSAVE area is {@code xsaveSize} bytes and whose KVM offers
     * {@code supportedCpuid}; throws a {@link StateException} naming the record and the difference.
     */
    static Checked check(List<StateRecord> records, int xsaveSize, List<CpuidEntry> supportedCpuid) {
        byte[] mpState = fixed(records, MP_STATE, KvmStructs.KVM_MP_STATE);  // its value KVM_SET_MP_STATE checks
        byte[] regs = fixed(records, REGS, X86KvmStructs.KVM_REGS);
        byte[] sregs = fixed(records, SREGS, X86KvmStructs.KVM_SREGS);
        byte[] xsave = StateRecord.find(records, XSAVE, VERSION).data();
        if (xsave.length < LEGACY_XSAVE_SIZE || xsave.length % 4 != 0) {
            throw new StateException(XSAVE + ": " + xsave.length + " bytes, expected at least " + LEGACY_XSAVE_SIZE
                    + " (a multiple of 4)");
        }
        if (xsave.length > Math.max(xsaveSize, LEGACY_XSAVE_SIZE)) {
            throw new StateException(XSAVE + ": " + xsave.length + " bytes, but this host's KVM takes at most " + xsaveSize
                    + " (the saved guest used XSAVE state components this process has not enabled)");
        }
        byte[] xcrs = fixed(records, XCRS, X86KvmStructs.KVM_XCRS);
        MemorySegment x = MemorySegment.ofArray(xcrs);
        int nrXcrs = x.get(JAVA_INT_UNALIGNED, X86KvmStructs.XCRS_NR_XCRS);
        if (nrXcrs < 0 || nrXcrs > KvmConstants.KVM_MAX_XCRS || x.get(JAVA_INT_UNALIGNED, X86KvmStructs.XCRS_FLAGS) != 0) {
            throw new StateException(XCRS + ": " + nrXcrs + " registers (at most " + KvmConstants.KVM_MAX_XCRS
                    + ") with flags " + x.get(JAVA_INT_UNALIGNED, X86KvmStructs.XCRS_FLAGS) + " (must be 0)");
        }
        byte[] debugRegs = fixed(records, DEBUGREGS, X86KvmStructs.KVM_DEBUGREGS);
        if (MemorySegment.ofArray(debugRegs).get(JAVA_LONG_UNALIGNED, X86KvmStructs.DEBUGREGS_FLAGS) != 0) {
            throw new StateException(DEBUGREGS + ": flags must be 0");
        }
        byte[] lapic = fixed(records, LAPIC, X86KvmStructs.KVM_LAPIC_STATE);
        byte[] msrs = counted(records, MSRS, MSRS_HEADER, X86KvmStructs.MSRS_NMSRS, MSR_ENTRY, "MSRs");
        byte[] vcpuEvents = fixed(records, VCPU_EVENTS, X86KvmStructs.KVM_VCPU_EVENTS);
        byte[] cpuid = counted(records, CPUID, CPUID_HEADER, X86KvmStructs.CPUID2_NENT, CPUID_ENTRY, "CPUID entries");
        checkCpuidFeatures(cpuidEntries(cpuid), supportedCpuid);
        return new Checked(mpState, regs, sregs, xsave, xcrs, debugRegs, lapic, msrs, vcpuEvents, cpuid, tscKhz(records));
    }

    /** The record of the TSC frequency. */
    static StateRecord tscKhzRecord(int khz) {
        byte[] b = new byte[Integer.BYTES];
        MemorySegment.ofArray(b).set(JAVA_INT_UNALIGNED, 0, khz);
        return new StateRecord(TSC_KHZ, VERSION, b);
    }

    /** The saved TSC frequency in kHz, 0 where none was saved; a record of another size, or of 0 kHz, is refused. */
    private static int tscKhz(List<StateRecord> records) {
        if (records.stream().noneMatch(r -> r.id().equals(TSC_KHZ))) {
            return 0;
        }
        byte[] data = StateRecord.find(records, TSC_KHZ, VERSION).requireLength(Integer.BYTES).data();
        int khz = MemorySegment.ofArray(data).get(JAVA_INT_UNALIGNED, 0);
        if (khz <= 0) {
            throw new StateException(TSC_KHZ + ": " + Integer.toUnsignedString(khz) + " kHz is no TSC frequency");
        }
        return khz;
    }

    /**
     * Throws naming the leaf, register and bits where {@code saved} has a feature flag ({@link #FEATURE_WORDS})
     * that {@code supported} lacks: a guest that saw a feature must not wake up on a host that cannot give it.
     */
    static void checkCpuidFeatures(List<CpuidEntry> saved, List<CpuidEntry> supported) {
        List<String> missing = new ArrayList<>();
        for (FeatureWord w : FEATURE_WORDS) {
            CpuidEntry s = find(saved, w.function(), w.index());
            if (s == null) {
                continue;
            }
            CpuidEntry h = find(supported, w.function(), w.index());
            int host = h == null ? 0 : w.of(h);
            int lacking = w.of(s) & ~host & ~w.notFeatures();
            if (lacking != 0) {
                missing.add(String.format("leaf %s %s bit%s %s (0x%08x)", w.leaf(), w.register(),
                        Integer.bitCount(lacking) > 1 ? "s" : "", bits(lacking), lacking));
            }
        }
        if (!missing.isEmpty()) {
            throw new StateException(CPUID + ": the saved guest has CPUID features this host's KVM does not offer: "
                    + String.join("; ", missing));
        }
    }

    /** The entries of a {@code struct kvm_cpuid2} whose size has been checked. */
    static List<CpuidEntry> cpuidEntries(byte[] cpuid2) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Math.max(cpuid2.length, CPUID_HEADER), 8);
            MemorySegment.copy(cpuid2, 0, s, JAVA_BYTE, 0, cpuid2.length);
            int n = s.get(JAVA_INT, X86KvmStructs.CPUID2_NENT);
            List<CpuidEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(X86Codec.readCpuid(s.asSlice(CPUID_HEADER + i * CPUID_ENTRY, CPUID_ENTRY)));
            }
            return out;
        }
    }

    private static CpuidEntry find(List<CpuidEntry> entries, int function, int index) {
        for (CpuidEntry e : entries) {
            if (e.function() == function && (!e.indexed() || e.index() == index)) {
                return e;
            }
        }
        return null;
    }

    private static String bits(int mask) {
        List<String> out = new ArrayList<>();
        for (int b = 0; b < 32; b++) {
            if ((mask & (1 << b)) != 0) {
                out.add(Integer.toString(b));
            }
        }
        return String.join(", ", out);
    }

    private static byte[] fixed(List<StateRecord> records, String id, MemoryLayout struct) {
        return StateRecord.find(records, id, VERSION).requireLength((int) struct.byteSize()).data();
    }

    /** A record holding a header with a count at {@code countAt} and that many entries of {@code entry} bytes. */
    private static byte[] counted(List<StateRecord> records, String id, long header, long countAt, long entry, String what) {
        byte[] data = StateRecord.find(records, id, VERSION).data();
        if (data.length < header) {
            throw new StateException(id + ": " + data.length + " bytes, shorter than its " + header + "-byte header");
        }
        long n = Integer.toUnsignedLong(MemorySegment.ofArray(data).get(JAVA_INT_UNALIGNED, countAt));
        long expected = header + n * entry;
        if (data.length != expected) {
            throw new StateException(id + ": " + data.length + " bytes, expected " + expected + " for its " + n + " " + what);
        }
        return data;
    }
}
