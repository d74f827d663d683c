package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.kvm.abi.KvmIoctls;
import dev.nimbus.kvm.abi.X86KvmStructs;
import dev.nimbus.kvm.fd.FakeIoctl;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The in-kernel x86 irqchip's saved state as KVM sees it, through a stand-in for the kernel. */
class X86LegacyIrqChipStateTest {
    private static final IrqChipConfig.X86Legacy WITH_PIT = new IrqChipConfig.X86Legacy(0xfffb_d000L, 0xfffb_c000L, true);
    private static final IrqChipConfig.X86Legacy NO_PIT = new IrqChipConfig.X86Legacy(0xfffb_d000L, 0xfffb_c000L, false);

    @Test
    void savesThePicsAndTheIoapicByChipIdAndThePit() {
        FakeIoctl kernel = FakeIoctl.recording();
        X86LegacyIrqChip chip = X86LegacyIrqChip.create(WITH_PIT, kernel.vm());
        int before = kernel.calls();

        List<StateRecord> records = chip.saveState();

        assertThat(records).extracting(StateRecord::id)
                .containsExactly("kvm-x86-pic-master", "kvm-x86-pic-slave", "kvm-x86-ioapic", "kvm-x86-pit2");
        assertThat(kernel.requests().subList(before, kernel.calls())).containsExactly(KvmIoctls.KVM_GET_IRQCHIP,
                KvmIoctls.KVM_GET_IRQCHIP, KvmIoctls.KVM_GET_IRQCHIP, KvmIoctls.KVM_GET_PIT2);
        for (int id = 0; id < 3; id++) {
            assertThat(kernel.arg(before + id).get(JAVA_INT, X86KvmStructs.IRQCHIP_CHIP_ID)).isEqualTo(id);
            assertThat(records.get(id).data()).hasSize((int) X86KvmStructs.KVM_IRQCHIP.byteSize());
        }
        assertThat(records.get(3).data()).hasSize((int) X86KvmStructs.KVM_PIT_STATE2.byteSize());
    }

    @Test
    void restoresWhatItSaved() {
        FakeIoctl kernel = FakeIoctl.recording();
        X86LegacyIrqChip chip = X86LegacyIrqChip.create(WITH_PIT, kernel.vm());
        List<StateRecord> records = chip.saveState();
        int before = kernel.calls();

        chip.restoreState(records);

        assertThat(kernel.requests().subList(before, kernel.calls())).containsExactly(KvmIoctls.KVM_SET_IRQCHIP,
                KvmIoctls.KVM_SET_IRQCHIP, KvmIoctls.KVM_SET_IRQCHIP, KvmIoctls.KVM_SET_PIT2);
        assertThat(kernel.arg(before + 2).get(JAVA_INT, X86KvmStructs.IRQCHIP_CHIP_ID)).isEqualTo(2);
    }

    @Test
    void aRecordHoldingAnotherChipIsRefusedBeforeAnythingIsSet() {
        FakeIoctl kernel = FakeIoctl.recording();
        X86LegacyIrqChip chip = X86LegacyIrqChip.create(WITH_PIT, kernel.vm());
        List<StateRecord> saved = chip.saveState();
        List<StateRecord> swapped = new ArrayList<>(saved);
        swapped.set(0, new StateRecord("kvm-x86-pic-master", 1, saved.get(1).data()));
        int before = kernel.calls();

        assertThatThrownBy(() -> chip.restoreState(swapped)).isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-pic-master: holds the state of chip 1, not 0");
        assertThat(kernel.calls()).isEqualTo(before);
    }

    @Test
    void aTruncatedRecordAMissingPitOrAnUnexpectedOneIsRefused() {
        FakeIoctl kernel = FakeIoctl.recording();
        X86LegacyIrqChip withPit = X86LegacyIrqChip.create(WITH_PIT, kernel.vm());
        List<StateRecord> saved = withPit.saveState();
        List<StateRecord> truncated = new ArrayList<>(saved);
        truncated.set(2, new StateRecord("kvm-x86-ioapic", 1, java.util.Arrays.copyOf(saved.get(2).data(), 100)));
        X86LegacyIrqChip noPit = X86LegacyIrqChip.create(NO_PIT, FakeIoctl.recording().vm());
        int before = kernel.calls();

        assertThatThrownBy(() -> withPit.restoreState(truncated)).isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-ioapic: 100 bytes, expected 520");
        assertThatThrownBy(() -> withPit.restoreState(saved.subList(0, 3))).isInstanceOf(StateException.class)
                .hasMessage("kvm-x86-pit2: missing from the saved state");
        assertThatThrownBy(() -> noPit.restoreState(saved)).isInstanceOf(StateException.class)
                .hasMessageStartingWith("kvm-x86-pit2: saved from a machine with a PIT");
        assertThat(kernel.calls()).isEqualTo(before);
    }

    @Test
    void theSplitIrqchipSavesNothingAndTakesNothing() {
        X86SplitIrqChip split = X86SplitIrqChip.create(new IrqChipConfig.X86Split(0xfffb_d000L, 0xfffb_c000L, 24),
                FakeIoctl.recording().vm());

        assertThat(split.saveState()).isEmpty();
        split.restoreState(List.of());
        assertThatThrownBy(() -> split.restoreState(List.of(new StateRecord("kvm-x86-ioapic", 1, new byte[520]))))
                .isInstanceOf(StateException.class).hasMessageContaining("kvm-x86-ioapic");
    }
}
