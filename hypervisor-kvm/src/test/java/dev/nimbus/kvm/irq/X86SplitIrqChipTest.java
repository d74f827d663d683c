package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.KvmIoctls;
import dev.nimbus.kvm.abi.KvmStructs;
import dev.nimbus.kvm.fd.FakeIoctl;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The split irqchip's set-up as KVM sees it, through a stand-in for the kernel. */
class X86SplitIrqChipTest {
    private static final IrqChipConfig.X86Split CONFIG = new IrqChipConfig.X86Split(0xfeff_d000L, 0xfeff_c000L, 24);

    @Test
    void enablesTheSplitIrqchipWith24IoapicRoutesAndCreatesNoPicIoapicOrPit() {
        FakeIoctl kernel = FakeIoctl.recording();
        X86SplitIrqChip.create(CONFIG, kernel.vm());

        assertThat(kernel.requests()).containsExactly(KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR, KvmIoctls.KVM_SET_TSS_ADDR,
                KvmIoctls.KVM_ENABLE_CAP);
        MemorySegment cap = kernel.arg(2);
        assertThat(cap.get(JAVA_INT, KvmStructs.ENABLE_CAP_CAP)).isEqualTo(KvmConstants.KVM_CAP_SPLIT_IRQCHIP);
        assertThat(cap.get(JAVA_INT, KvmStructs.ENABLE_CAP_CAP + 4)).as("flags").isZero();
        assertThat(cap.get(JAVA_LONG, KvmStructs.ENABLE_CAP_ARGS)).as("args[0]: GSIs kept for the IOAPIC").isEqualTo(24);
        assertThat(cap.get(JAVA_LONG, KvmStructs.ENABLE_CAP_ARGS + 8)).isZero();
    }

    @Test
    void messagesGoInWithKvmSignalMsi() {
        FakeIoctl kernel = FakeIoctl.recording();
        X86SplitIrqChip chip = X86SplitIrqChip.create(CONFIG, kernel.vm());

        chip.signalMsi(MsiMessage.of(0xfee0_1000L, 0xc030));

        assertThat(kernel.requests().getLast()).isEqualTo(KvmIoctls.KVM_SIGNAL_MSI);
        assertThat(kernel.arg(kernel.requests().size() - 1).get(JAVA_INT, KvmStructs.MSI_DATA)).isEqualTo(0xc030);
    }

    @Test
    void hasNoLinesInTheKernel() {
        X86SplitIrqChip chip = X86SplitIrqChip.create(CONFIG, FakeIoctl.recording().vm());
        assertThat(chip.lineRoutes()).isEmpty();
        assertThatThrownBy(() -> chip.setIrqLine(4, true)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("GSI 4");
    }
}
