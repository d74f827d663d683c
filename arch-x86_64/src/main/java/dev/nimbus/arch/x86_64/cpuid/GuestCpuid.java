package dev.nimbus.arch.x86_64.cpuid;

import dev.nimbus.hypervisor.x86.CpuidEntry;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID a vCPU shows its guest, derived from what the hypervisor supports on this host
 * ({@code X86Vcpu.supportedCpuid()}):
 * <ul>
 *   <li><b>Topology.</b> Every vCPU is one core of a single package with one thread per core; the APIC id
 *       is the vCPU index. Leaf 0x1 (initial APIC id, addressable ids, HTT), leaf 0x4 (cores per
 *       package, threads sharing each cache: L1/L2 private, L3 shared), leaves 0xB and 0x1F (an SMT level
 *       of one thread and a core level of all vCPUs, x2APIC id in EDX), and on AMD leaves 0x80000008 ECX
 *       and 0x8000001E.</li>
 *   <li><b>Hypervisor leaves.</b> The hypervisor's own 0x40000000 signature is kept: on KVM that is
 *       "KVMKVMKVM", so Linux finds kvmclock (its stable clocksource, and the source of the TSC and
 *       local APIC timer frequencies on a hardware-reduced ACPI machine, which has no PIT to calibrate
 *       against), PV EOI, steal time and PV spinlock kicks, all handled inside KVM. In the paravirt
 *       feature leaf 0x40000001 the features that need the VMM's help are cleared (see
 *       {@link #KVM_FEATURES_NEEDING_VMM}) and so is the "dedicated pCPUs" hint. A backend that offers no
 *       hypervisor leaves gets a bare "NimbusNimbus" signature with no paravirt features: pretending to
 *       be KVM elsewhere would make Linux use MSRs that are not there.</li>
 *   <li><b>Masked.</b> What Nimbus does not offer: nested virtualisation (VMX, SVM), SMX, SGX, the
 *       performance monitoring unit (leaf 0xA zeroed, PDCM cleared: no vPMU is configured or
 *       saved), thermal and power-management MSRs (EST, TM2, DCA), MONITOR/MWAIT. The hypervisor bit
 *       (leaf 1 ECX bit 31) is set.</li>
 * </ul>
 */
public final class GuestCpuid {
    private GuestCpuid() {}

    public static final int HYPERVISOR_BASE = 0x4000_0000;
    public static final int KVM_FEATURES = 0x4000_0001;
    /** "KVMKVMKVM\0\0\0" as EBX, ECX, EDX. */
    public static final String KVM_SIGNATURE = "KVMKVMKVM\0\0\0";
    public static final String NIMBUS_SIGNATURE = "NimbusNimbus";

    // leaf 1 ECX
    static final int ECX_MONITOR = 1 << 3;
    static final int ECX_VMX = 1 << 5;
    static final int ECX_SMX = 1 << 6;
    static final int ECX_EST = 1 << 7;
    static final int ECX_TM2 = 1 << 8;
    static final int ECX_PDCM = 1 << 15;
    static final int ECX_DCA = 1 << 18;
    static final int ECX_HYPERVISOR = 1 << 31;
    static final int LEAF1_ECX_MASKED = ECX_MONITOR | ECX_VMX | ECX_SMX | ECX_EST | ECX_TM2 | ECX_PDCM | ECX_DCA;
    // leaf 1 EDX
    static final int EDX_HTT = 1 << 28;
    // leaf 7.0
    static final int EBX_SGX = 1 << 2;
    static final int ECX_SGX_LC = 1 << 30;
    // leaf 0x80000001 ECX
    static final int ECX_SVM = 1 << 2;

    /**
     * KVM paravirt features (leaf 0x40000001 EAX) cleared because the VMM would have to take part:
     * MSI_EXT_DEST_ID (bit 15: the VMM's MSI routing must understand extended destination ids),
     * HC_MAP_GPA_RANGE (bit 16: a hypercall that exits to the VMM), MIGRATION_CONTROL (bit 17: an MSR the
     * VMM must handle).
     */
    public static final int KVM_FEATURES_NEEDING_VMM = (1 << 15) | (1 << 16) | (1 << 17);
    /** KVM_HINTS_REALTIME (leaf 0x40000001 EDX bit 0): vCPUs are never preempted. Nimbus does not pin them. */
    static final int KVM_HINTS_REALTIME = 1;

    /**
     * The CPUID of vCPU {@code apicId} of a machine of {@code vcpus} vCPUs.
     *
     * @param supported the hypervisor's supported CPUID on this host
     */
    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int vcpus) {
        return forVcpu(supported, apicId, vcpus, 64);
    }

    /**
     * The same, reporting at most {@code maxPhysBits} physical address bits (leaf 0x80000008 EAX[7:0], and
     * the guest physical address size in EAX[23:16] where the host gives one), as {@code max_phys_bits} asks.
     */
    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int vcpus, int maxPhysBits) {
        if (vcpus < 1 || apicId < 0 || apicId >= vcpus) {
            throw new IllegalArgumentException("vCPU " + apicId + " of " + vcpus);
        }
        int maxBasic = find(supported, 0, 0).map(CpuidEntry::eax).orElse(0);
        boolean amd = isAmd(supported);
        int coreBits = 32 - Integer.numberOfLeadingZeros(vcpus - 1); // bits of APIC id that number the cores
        int addressable = Math.min(1 << coreBits, 0xff);

        List<CpuidEntry> out = new ArrayList<>();
        boolean hasHypervisorLeaf = false;
        for (CpuidEntry e : supported) {
            int f = e.function();
            switch (f) {
                case 0x1 -> {
                    int ebx = (e.ebx() & 0xffff) | (addressable << 16) | (apicId << 24);
                    int ecx = (e.ecx() & ~LEAF1_ECX_MASKED) | ECX_HYPERVISOR;
                    int edx = vcpus > 1 ? e.edx() | EDX_HTT : e.edx() & ~EDX_HTT;
                    out.add(e.withEbx(ebx).withEcx(ecx).withEdx(edx));
                }
                case 0x4 -> out.add(cacheLeaf(e, coreBits));
                case 0x7 -> out.add(e.index() == 0 ? e.withEbx(e.ebx() & ~EBX_SGX).withEcx(e.ecx() & ~ECX_SGX_LC) : e);
                case 0xa -> out.add(new CpuidEntry(f, e.index(), e.indexed(), 0, 0, 0, 0));
                case 0xb, 0x1f, 0x12 -> { } // rebuilt below (0xB, 0x1F) or not offered (0x12, SGX)
                case HYPERVISOR_BASE -> {
                    hasHypervisorLeaf = true;
                    out.add(e);
                }
                case KVM_FEATURES -> out.add(isKvm(supported)
                        ? e.withEax(e.eax() & ~KVM_FEATURES_NEEDING_VMM).withEdx(e.edx() & ~KVM_HINTS_REALTIME)
                        : e);
                case 0x8000_0001 -> out.add(e.withEcx(e.ecx() & ~ECX_SVM));
                case 0x8000_0008 -> {
                    CpuidEntry sized = e.withEax(physBits(e.eax(), maxPhysBits));
                    out.add(amd ? sized.withEcx((e.ecx() & ~0xf0ff) | (coreBits << 12) | (vcpus - 1)) : sized);
                }
                case 0x8000_001e -> out.add(amd ? new CpuidEntry(f, e.index(), e.indexed(), apicId, apicId & 0xff, 0, 0) : e);
                default -> out.add(e);
            }
        }
        for (int leaf : new int[] {0xb, 0x1f}) {
            if (maxBasic >= leaf) {
                out.add(new CpuidEntry(leaf, 0, true, 0, 1, (1 << 8), apicId));              // SMT: 1 thread
                out.add(new CpuidEntry(leaf, 1, true, coreBits, vcpus, (2 << 8) | 1, apicId)); // core: all vCPUs
                out.add(new CpuidEntry(leaf, 2, true, 0, 0, 2, apicId));                      // end of levels
            }
        }
        if (!hasHypervisorLeaf) {
            int[] sig = registers(NIMBUS_SIGNATURE);
            out.add(new CpuidEntry(HYPERVISOR_BASE, 0, false, HYPERVISOR_BASE, sig[0], sig[1], sig[2]));
        }
        return List.copyOf(out);
    }

    /** Leaf 0x80000008's EAX with its physical and guest-physical address sizes held to {@code max} bits. */
    static int physBits(int eax, int max) {
        int phys = Math.min(eax & 0xff, max);
        int guestPhys = (eax >>> 16) & 0xff;
        if (guestPhys != 0) {
            guestPhys = Math.min(guestPhys, max);
        }
        return (eax & 0xff00_ff00) | (guestPhys << 16) | phys;
    }

    private static CpuidEntry cacheLeaf(CpuidEntry e, int coreBits) {
        int type = e.eax() & 0x1f;
        if (type == 0) {
            return e; // no more caches
        }
        int level = (e.eax() >>> 5) & 0x7;
        int sharing = level >= 3 ? (1 << coreBits) - 1 : 0;
        int cores = Math.min((1 << coreBits) - 1, 63);
        return e.withEax((e.eax() & 0x3fff) | (sharing << 14) | (cores << 26));
    }

    private static java.util.Optional<CpuidEntry> find(List<CpuidEntry> entries, int function, int index) {
        return entries.stream().filter(e -> e.function() == function && (!e.indexed() || e.index() == index)).findFirst();
    }

    private static boolean isAmd(List<CpuidEntry> entries) {
        return find(entries, 0, 0).map(e -> {
            String v = string(e.ebx(), e.edx(), e.ecx());
            return v.equals("AuthenticAMD") || v.equals("HygonGenuine");
        }).orElse(false);
    }

    private static boolean isKvm(List<CpuidEntry> entries) {
        return find(entries, HYPERVISOR_BASE, 0).map(e -> string(e.ebx(), e.ecx(), e.edx()).equals(KVM_SIGNATURE)).orElse(false);
    }

    /** Twelve ASCII characters from three registers, in the order given. */
    public static String string(int a, int b, int c) {
        byte[] bytes = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(a).putInt(b).putInt(c).array();
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    /** The three registers that spell {@code s} (12 characters). */
    public static int[] registers(String s) {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1)).order(ByteOrder.LITTLE_ENDIAN);
        return new int[] {b.getInt(), b.getInt(), b.getInt()};
    }
}
