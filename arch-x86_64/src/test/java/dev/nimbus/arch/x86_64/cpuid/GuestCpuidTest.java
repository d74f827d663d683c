package dev.nimbus.arch.x86_64.cpuid;

import dev.nimbus.hypervisor.x86.CpuidEntry;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The guest CPUID derived from synthetic supported lists (SDM vol. 2A "CPUID", AMD APM vol. 3 appendix E). */
class GuestCpuidTest {
    private static CpuidEntry leaf(List<CpuidEntry> cpuid, int function, int index) {
        return cpuid.stream().filter(e -> e.function() == function && e.index() == index).findFirst()
                .orElseThrow(() -> new AssertionError(String.format("no leaf 0x%x.%d", function, index)));
    }

    private static boolean has(List<CpuidEntry> cpuid, int function) {
        return cpuid.stream().anyMatch(e -> e.function() == function);
    }

    @Test
    void leafOneCarriesTheInitialApicIdAndAddressableIds() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 3, 4);
        CpuidEntry l1 = leaf(c, 1, 0);
        assertThat(l1.ebx() >>> 24).as("initial APIC id").isEqualTo(3);
        assertThat(l1.ebx() >>> 16 & 0xff).as("addressable logical processor ids").isEqualTo(4);
        assertThat(l1.ebx() & 0xffff).as("CLFLUSH size and brand kept").isEqualTo(0x0800);
        assertThat(l1.edx() >>> 28 & 1).as("HTT").isEqualTo(1);
        assertThat(l1.eax()).isEqualTo(SyntheticCpuid.LEAF1_EAX);
    }

    @Test
    void singleVcpuClearsHtt() {
        CpuidEntry l1 = leaf(GuestCpuid.forVcpu(SyntheticCpuid.intel(), 0, 1), 1, 0);
        assertThat(l1.edx() >>> 28 & 1).isZero();
        assertThat(l1.ebx() >>> 16 & 0xff).isEqualTo(1);
    }

    @Test
    void hypervisorBitIsSetAndNestedVirtualisationHidden() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 0, 2);
        assertThat(leaf(c, 1, 0).ecx() >>> 31).as("hypervisor present").isEqualTo(1);
        assertThat(leaf(c, 1, 0).ecx() >>> 5 & 1).as("VMX").isZero();
        assertThat(leaf(c, 0x8000_0001, 0).ecx() >>> 2 & 1).as("SVM").isZero();
        assertThat(leaf(GuestCpuid.forVcpu(SyntheticCpuid.amd(), 0, 2), 0x8000_0001, 0).ecx() >>> 2 & 1).as("SVM on AMD").isZero();
    }

    @Test
    void performanceMonitoringIsHidden() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 0, 2);
        CpuidEntry pmu = leaf(c, 0xa, 0);
        assertThat(List.of(pmu.eax(), pmu.ebx(), pmu.ecx(), pmu.edx())).containsOnly(0);
        assertThat(leaf(c, 1, 0).ecx() >>> 15 & 1).as("PDCM").isZero();
    }

    @Test
    void sgxIsHidden() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 0, 2);
        assertThat(leaf(c, 7, 0).ebx() >>> 2 & 1).isZero();
        assertThat(leaf(c, 7, 0).ecx() >>> 30 & 1).isZero();
        assertThat(has(c, 0x12)).isFalse();
    }

    @Test
    void cacheLeavesKeepL1AndL2PrivateAndShareL3AcrossTheVcpus() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 1, 6); // 6 vCPUs: 3 bits of core id
        for (int i = 0; i < 3; i++) {
            CpuidEntry cache = leaf(c, 4, i);
            assertThat(cache.eax() >>> 14 & 0xfff).as("threads sharing cache %d", i).isZero();
            assertThat(cache.eax() >>> 26).as("cores per package - 1").isEqualTo(7);
            assertThat(cache.eax() & 0x3fff).as("type and level kept").isEqualTo(SyntheticCpuid.intel().get(2 + i).eax() & 0x3fff);
        }
        assertThat(leaf(c, 4, 3).eax() >>> 14 & 0xfff).as("L3 shared by all").isEqualTo(7);
        assertThat(leaf(c, 4, 4).eax()).as("the end of the cache list stays zero").isZero();
    }

    @Test
    void extendedTopologyLeavesDescribeOneThreadPerCoreAndEveryVcpuACore() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 5, 6);
        for (int function : new int[] {0xb, 0x1f}) {
            CpuidEntry smt = leaf(c, function, 0), core = leaf(c, function, 1), end = leaf(c, function, 2);
            assertThat(smt.indexed()).isTrue();
            assertThat(smt.eax() & 0x1f).as("SMT shift").isZero();
            assertThat(smt.ebx()).as("threads per core").isEqualTo(1);
            assertThat(smt.ecx() >>> 8 & 0xff).as("level type SMT").isEqualTo(1);
            assertThat(core.eax() & 0x1f).as("core shift").isEqualTo(3);
            assertThat(core.ebx()).as("logical processors in the package").isEqualTo(6);
            assertThat(core.ecx()).as("level type core, level 1").isEqualTo(0x201);
            assertThat(end.ecx() >>> 8 & 0xff).as("invalid level ends the list").isZero();
            assertThat(List.of(smt.edx(), core.edx(), end.edx())).as("x2APIC id").containsOnly(5);
            assertThat(c.stream().filter(e -> e.function() == function).count()).isEqualTo(3);
        }
    }

    @Test
    void noExtendedTopologyLeavesBeyondTheMaximumBasicLeaf() {
        List<CpuidEntry> upToD = GuestCpuid.forVcpu(SyntheticCpuid.intel(0xd), 0, 2);
        assertThat(has(upToD, 0xb)).isTrue();
        assertThat(has(upToD, 0x1f)).isFalse();
        List<CpuidEntry> upToA = GuestCpuid.forVcpu(SyntheticCpuid.intel(0xa), 0, 2);
        assertThat(has(upToA, 0xb)).isFalse();
    }

    @Test
    void kvmSignatureIsKeptAndPvFeaturesNeedingTheVmmAreCleared() {
        List<CpuidEntry> supported = SyntheticCpuid.intel();
        List<CpuidEntry> c = GuestCpuid.forVcpu(supported, 0, 2);
        CpuidEntry base = leaf(c, 0x4000_0000, 0);
        assertThat(GuestCpuid.string(base.ebx(), base.ecx(), base.edx())).isEqualTo("KVMKVMKVM\0\0\0");
        assertThat(base.eax()).isEqualTo(0x4000_0001);
        CpuidEntry features = leaf(c, 0x4000_0001, 0);
        CpuidEntry offered = leaf(supported, 0x4000_0001, 0);
        assertThat(features.eax() & 1).as("kvmclock (KVM_FEATURE_CLOCKSOURCE)").isEqualTo(1);
        assertThat(features.eax() >>> 3 & 1).as("KVM_FEATURE_CLOCKSOURCE2").isEqualTo(1);
        assertThat(features.eax() & (7 << 15)).as("MSI_EXT_DEST_ID, HC_MAP_GPA_RANGE, MIGRATION_CONTROL").isZero();
        assertThat(features.eax() | (7 << 15)).as("the rest as offered").isEqualTo(offered.eax() | (7 << 15));
        assertThat(features.edx() & 1).as("KVM_HINTS_REALTIME").isZero();
    }

    @Test
    void backendWithoutHypervisorLeavesGetsTheNimbusSignatureAndNoPvFeatures() {
        List<CpuidEntry> supported = SyntheticCpuid.intel().stream().filter(e -> e.function() >>> 28 != 4).toList();
        List<CpuidEntry> c = GuestCpuid.forVcpu(supported, 0, 1);
        CpuidEntry base = leaf(c, 0x4000_0000, 0);
        assertThat(GuestCpuid.string(base.ebx(), base.ecx(), base.edx())).isEqualTo("NimbusNimbus");
        assertThat(base.eax()).as("no leaves beyond the signature").isEqualTo(0x4000_0000);
        assertThat(has(c, 0x4000_0001)).isFalse();
    }

    @Test
    void amdHostsGetTheCoreCountAndApicIdSizeInLeaf80000008() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.amd(), 2, 3);
        CpuidEntry l = leaf(c, 0x8000_0008, 0);
        assertThat(l.ecx() & 0xff).as("NC: cores - 1").isEqualTo(2);
        assertThat(l.ecx() >>> 12 & 0xf).as("ApicIdCoreIdSize").isEqualTo(2);
        assertThat(l.eax()).isEqualTo(0x3030);
        CpuidEntry ext = leaf(c, 0x8000_001e, 0);
        assertThat(ext.eax()).as("extended APIC id").isEqualTo(2);
        assertThat(ext.ebx() >>> 8 & 0xff).as("threads per core - 1").isZero();
    }

    @Test
    void physicalAddressBitsAreHeldToMaxPhysBits() {
        // Intel: 39 physical, 48 virtual bits; 36 asked
        assertThat(leaf(GuestCpuid.forVcpu(SyntheticCpuid.intel(), 0, 1, 36), 0x8000_0008, 0).eax()).isEqualTo(0x3024);
        // more asked than the host has (48): the host's; CH's default 46 below it
        assertThat(leaf(GuestCpuid.forVcpu(SyntheticCpuid.amd(), 0, 1, 52), 0x8000_0008, 0).eax()).isEqualTo(0x3030);
        assertThat(leaf(GuestCpuid.forVcpu(SyntheticCpuid.amd(), 0, 1, 46), 0x8000_0008, 0).eax()).isEqualTo(0x302e);
        assertThat(leaf(GuestCpuid.forVcpu(SyntheticCpuid.amd(), 0, 1, 40), 0x8000_0008, 0).eax()).isEqualTo(0x3028);
        // a guest physical address size (EAX[23:16]) is held too; an absent one (0) stays absent
        assertThat(GuestCpuid.physBits(0x0034_3034, 40)).isEqualTo(0x0028_3028);
        assertThat(GuestCpuid.physBits(0x0000_3034, 40)).isEqualTo(0x0000_3028);
    }

    @Test
    void intelLeaf80000008IsPassedThrough() {
        assertThat(leaf(GuestCpuid.forVcpu(SyntheticCpuid.intel(), 1, 4), 0x8000_0008, 0))
                .isEqualTo(leaf(SyntheticCpuid.intel(), 0x8000_0008, 0));
    }

    @Test
    void leavesNothingToDoWithTopologyOrMaskingPassThrough() {
        List<CpuidEntry> c = GuestCpuid.forVcpu(SyntheticCpuid.intel(), 1, 4);
        assertThat(c).contains(SyntheticCpuid.XSAVE).contains(leaf(SyntheticCpuid.intel(), 0, 0));
    }

    @Test
    void apicIdOutsideTheMachineIsRefused() {
        assertThatThrownBy(() -> GuestCpuid.forVcpu(SyntheticCpuid.intel(), 4, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("vCPU 4 of 4");
    }
}
