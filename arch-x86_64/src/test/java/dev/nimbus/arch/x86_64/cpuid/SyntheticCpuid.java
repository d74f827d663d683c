package dev.nimbus.arch.x86_64.cpuid;

import dev.nimbus.hypervisor.x86.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * Supported-CPUID lists as KVM_GET_SUPPORTED_CPUID returns them on an Intel and an AMD host (values from
 * real machines of those kinds, trimmed to the leaves the guest CPUID code touches, plus ones it must
 * pass through unchanged).
 */
public final class SyntheticCpuid {
    private SyntheticCpuid() {}

    public static final int LEAF1_EAX = 0x000906ea;
    public static final CpuidEntry XSAVE = new CpuidEntry(0xd, 0, true, 0x2e7, 0x988, 0xa88, 0);

    public static List<CpuidEntry> intel() {
        return intel(0x1f);
    }

    /** An Intel host whose leaf 0 says {@code maxBasic}. */
    public static List<CpuidEntry> intel(int maxBasic) {
        int[] v = GuestCpuid.registers("GenuineIntel"); // EBX, EDX, ECX order in CPUID: "Genu" "ineI" "ntel"
        List<CpuidEntry> l = new ArrayList<>();
        l.add(new CpuidEntry(0, 0, false, maxBasic, v[0], v[2], v[1]));
        l.add(new CpuidEntry(1, 0, false, LEAF1_EAX, 0x0c100800, 0xf7fa3223, 0x178bfbff)); // VMX, PDCM, HYPERVISOR...
        l.add(new CpuidEntry(4, 0, true, 0x1c004121, 0x01c0003f, 0x3f, 0)); // L1d
        l.add(new CpuidEntry(4, 1, true, 0x1c004122, 0x01c0003f, 0x3f, 0)); // L1i
        l.add(new CpuidEntry(4, 2, true, 0x1c004143, 0x00c0003f, 0x3ff, 0)); // L2
        l.add(new CpuidEntry(4, 3, true, 0x1c03c163, 0x03c0003f, 0x2fff, 6)); // L3
        l.add(new CpuidEntry(4, 4, true, 0, 0, 0, 0));
        l.add(new CpuidEntry(7, 0, true, 0, 0x029c6fbf, 0x40000000 | 0x4, 0xbc000400)); // SGX in EBX bit 2, SGX_LC
        l.add(new CpuidEntry(0xa, 0, false, 0x07300404, 0, 0, 0x603));
        l.add(new CpuidEntry(0xb, 0, true, 1, 2, 0x100, 0));
        l.add(new CpuidEntry(0xb, 1, true, 4, 12, 0x201, 0));
        l.add(XSAVE);
        l.add(new CpuidEntry(0x12, 0, true, 1, 0, 0, 0x241f));
        l.add(new CpuidEntry(0x1f, 0, true, 1, 2, 0x100, 0));
        l.add(new CpuidEntry(0x1f, 1, true, 4, 12, 0x201, 0));
        int[] kvm = GuestCpuid.registers(GuestCpuid.KVM_SIGNATURE);
        l.add(new CpuidEntry(0x4000_0000, 0, false, 0x4000_0001, kvm[0], kvm[1], kvm[2]));
        l.add(new CpuidEntry(0x4000_0001, 0, false, 0x0003_ffff & ~(1 << 2) | 0x0101_0000, 0, 0, 1));
        l.add(new CpuidEntry(0x8000_0000, 0, false, 0x8000_0008, 0, 0, 0));
        l.add(new CpuidEntry(0x8000_0001, 0, false, 0, 0, 0x121 | 0x4, 0x2c100800));
        l.add(new CpuidEntry(0x8000_0008, 0, false, 0x3027, 0, 0, 0));
        return l;
    }

    public static List<CpuidEntry> amd() {
        int[] v = GuestCpuid.registers("AuthenticAMD");
        List<CpuidEntry> l = new ArrayList<>();
        l.add(new CpuidEntry(0, 0, false, 0x10, v[0], v[2], v[1]));
        l.add(new CpuidEntry(1, 0, false, 0x00a50f00, 0x00100800, 0xf6d83203, 0x178bfbff));
        l.add(new CpuidEntry(0x8000_0000, 0, false, 0x8000_001f, 0, 0, 0));
        l.add(new CpuidEntry(0x8000_0001, 0, false, 0x00a50f00, 0, 0x75c237ff, 0x2fd3fbff)); // SVM bit 2 set
        l.add(new CpuidEntry(0x8000_0008, 0, false, 0x3030, 0x0, 0x700f, 0));
        l.add(new CpuidEntry(0x8000_001e, 0, false, 0x0c, 0x0106, 0, 0));
        return l;
    }
}
