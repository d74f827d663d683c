package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.kvm.abi.KvmIoctls;
import dev.nimbus.kvm.fd.FakeIoctl;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import static dev.nimbus.kvm.abi.KvmConstants.*;
import static dev.nimbus.kvm.abi.KvmStructs.DEVICE_ATTR_ATTR;
import static dev.nimbus.kvm.abi.KvmStructs.DEVICE_ATTR_GROUP;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The vGICv3 snapshot's orders and checks, against a fake kernel (every register reads 0): what
 * {@link GicV3IrqChip#restoreState} writes, in which order (arm-vgic-v3.rst, arm-vgic-its.rst), and what it
 * refuses before writing anything. The values round trip in the conformance kit, in L1.
 */
class GicV3IrqChipStateTest {
    private static final IrqChipConfig.GicV3 WITH_ITS = new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L,
            OptionalLong.of(0x0808_0000L), 64);
    private static final IrqChipConfig.GicV3 WITHOUT_ITS = new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L,
            OptionalLong.empty(), 64);

    private record Set(int group, long attr) {}

    private static List<StateRecord> saved(IrqChipConfig.GicV3 config, int... vcpus) {
        GicV3IrqChip chip = GicV3IrqChip.create(config, new FakeIoctl().vm(), () -> vcpus);
        chip.finishSetup();
        return chip.saveState();
    }

    /** The KVM_SET_DEVICE_ATTR calls {@code kernel} saw, as (group, attr). */
    private static List<Set> sets(FakeIoctl kernel, int from) {
        List<Set> out = new ArrayList<>();
        List<Long> requests = kernel.requests();
        for (int i = from; i < requests.size(); i++) {
            if (requests.get(i) == KvmIoctls.KVM_SET_DEVICE_ATTR) {
                MemorySegment a = kernel.arg(i);
                out.add(new Set(a.get(JAVA_INT, DEVICE_ATTR_GROUP), a.get(JAVA_LONG, DEVICE_ATTR_ATTR)));
            }
        }
        return out;
    }

    private static long cpu(int aff0) {
        return (long) aff0 << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
    }

    @Test
    void restoreWritesInTheKernelsDocumentedOrder() {
        List<StateRecord> records = saved(WITH_ITS, 0, 1);
        FakeIoctl kernel = FakeIoctl.recording();
        GicV3IrqChip chip = GicV3IrqChip.create(WITH_ITS, kernel.vm(), () -> new int[] {0, 1});
        chip.finishSetup();
        int start = kernel.requests().size();

        chip.restoreState(records);

        List<Set> sets = sets(kernel, start);
        int dist = KVM_DEV_ARM_VGIC_GRP_DIST_REGS, redist = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
        assertThat(sets.getFirst()).as("GICD_CTLR first").isEqualTo(new Set(dist, 0x0));
        for (int aff0 : new int[] {0, 1}) {
            assertThat(sets.indexOf(new Set(redist, cpu(aff0) | 0x70))).as("GICR_PROPBASER before GICR_CTLR")
                    .isNotNegative().isLessThan(sets.indexOf(new Set(redist, cpu(aff0))));
            assertThat(sets.indexOf(new Set(redist, cpu(aff0) | 0x78))).as("GICR_PENDBASER before GICR_CTLR")
                    .isLessThan(sets.indexOf(new Set(redist, cpu(aff0))));
        }
        // vCPU 1's PPIs (the fake's GICD_TYPER reads 0: no SPIs): configuration, then levels, then enable and
        // pending
        int icfgr = sets.indexOf(new Set(redist, cpu(1) | 0x1_0c04));
        int level = sets.indexOf(new Set(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, cpu(1)));
        int isenabler = sets.indexOf(new Set(redist, cpu(1) | 0x1_0100));
        int ispendr = sets.indexOf(new Set(redist, cpu(1) | 0x1_0200));
        assertThat(icfgr).isNotNegative().isLessThan(level);
        assertThat(level).isLessThan(isenabler);
        assertThat(isenabler).isLessThan(ispendr);
        // the ITS after the GIC: (GITS_CBASER: the fake's is 0, never programmed, so not written), GITS_CREADR,
        // ..., RESTORE_TABLES, GITS_CTLR last
        int its = KVM_DEV_ARM_VGIC_GRP_ITS_REGS;
        assertThat(sets).as("a GITS_CBASER of 0").doesNotContain(new Set(its, 0x80));
        assertThat(sets.indexOf(new Set(its, 0x90))).isGreaterThan(sets.lastIndexOf(
                new Set(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, cpu(1) | 0xc665)));  // ICC_SRE_EL1 of the last vCPU
        assertThat(sets.subList(sets.size() - 2, sets.size())).containsExactly(
                new Set(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES), new Set(its, 0x0));
    }

    @Test
    void saveWritesThePendingAndItsTablesToGuestMemory() {
        FakeIoctl kernel = FakeIoctl.recording();
        GicV3IrqChip chip = GicV3IrqChip.create(WITH_ITS, kernel.vm(), () -> new int[] {0});
        chip.finishSetup();
        int start = kernel.requests().size();

        chip.saveState();

        assertThat(sets(kernel, start)).containsExactly(
                new Set(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES),
                new Set(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES));
    }

    @Test
    void stateOfOtherVcpusIsRefusedBeforeAnythingIsWritten() {
        List<StateRecord> records = saved(WITHOUT_ITS, 0, 1);
        FakeIoctl kernel = FakeIoctl.recording();
        GicV3IrqChip chip = GicV3IrqChip.create(WITHOUT_ITS, kernel.vm(), () -> new int[] {0});
        chip.finishSetup();
        int start = kernel.requests().size();

        assertThatThrownBy(() -> chip.restoreState(records)).isInstanceOf(StateException.class)
                .hasMessageContaining("kvm-arm64-vgic").hasMessageContaining("2 vCPUs");
        assertThat(sets(kernel, start)).isEmpty();
    }

    @Test
    void anItsRecordNeedsAnItsAndTheOtherWayRound() {
        List<StateRecord> withIts = saved(WITH_ITS, 0);
        GicV3IrqChip plain = GicV3IrqChip.create(WITHOUT_ITS, new FakeIoctl().vm(), () -> new int[] {0});
        plain.finishSetup();
        assertThatThrownBy(() -> plain.restoreState(withIts)).isInstanceOf(StateException.class)
                .hasMessageContaining("kvm-arm64-vgic-its");

        List<StateRecord> withoutIts = saved(WITHOUT_ITS, 0);
        GicV3IrqChip itsChip = GicV3IrqChip.create(WITH_ITS, new FakeIoctl().vm(), () -> new int[] {0});
        itsChip.finishSetup();
        assertThatThrownBy(() -> itsChip.restoreState(withoutIts)).isInstanceOf(StateException.class)
                .hasMessageContaining("kvm-arm64-vgic-its").hasMessageContaining("missing");
    }

    @Test
    void theVcpuAffinityIsKvmsResetMpidrPackedAsTheAttributeWantsIt() {
        // vCPU 0x1234f: Aff0 = bits 0-3 (0xf), Aff1 = bits 4-11 (0x34), Aff2 = bits 12-19 (0x12)
        assertThat(GicV3State.kvmMpidr(0x1234f)).isEqualTo(0x12_34_0fL);
        assertThat(GicV3State.mpidrAttr(0x01_00_02_03_04L)).isEqualTo(0x01_02_03_04L << 32);
    }
}
