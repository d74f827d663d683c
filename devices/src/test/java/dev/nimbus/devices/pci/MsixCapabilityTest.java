package dev.nimbus.devices.pci;

import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.hypervisor.MsiMessage;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * MSI-X (PCI Local Bus 3.0, 6.8.2): message control bit 15 enables, bit 14 masks the function; each 16-byte
 * table entry is address low, address high, data, vector control (bit 0 masks); the PBA holds one pending
 * bit per vector.
 */
class MsixCapabilityTest {
    final PciConfigSpace config = new PciConfigSpace(0x1af4, 0x1044, 0xff0000, 1, 0x1af4, 0x44);
    final RecordingMsiRouting routing = new RecordingMsiRouting();
    final MsixCapability msix = new MsixCapability(config, 3, 0, 0x4000, 0x6000, routing, -1);
    final int control = msix.offset() + 2;

    void writeControl(int value) {
        config.write(control, 2, value);
        msix.configWritten(control, 2);
    }

    void program(int vector, long address, int data) {
        msix.writeTable(vector * 16, 4, address & 0xffff_ffffL);
        msix.writeTable(vector * 16 + 4, 4, address >>> 32);
        msix.writeTable(vector * 16 + 8, 4, data);
    }

    void mask(int vector, boolean masked) {
        msix.writeTable(vector * 16 + 12, 4, masked ? 1 : 0);
    }

    @Test
    void capabilityDescribesTableSizeAndPlacement() {
        assertThat(config.read(msix.offset(), 1)).isEqualTo(0x11L);
        assertThat(config.read(control, 2) & 0x7ff).isEqualTo(2L); // table size minus one
        assertThat(config.read(msix.offset() + 4, 4)).isEqualTo(0x4000L); // offset, BIR 0
        assertThat(config.read(msix.offset() + 8, 4)).isEqualTo(0x6000L);
    }

    @Test
    void vectorsStartMasked() {
        assertThat(msix.readTable(12, 4)).isEqualTo(1L);
        assertThat(msix.readTable(2 * 16 + 12, 4)).isEqualTo(1L);
    }

    @Test
    void unmaskedVectorDeliversItsProgrammedMessage() {
        writeControl(MsixCapability.CONTROL_ENABLE);
        program(1, 0xfee0_1000L, 0x4041);
        mask(1, false);
        msix.vector(1).signal();
        assertThat(routing.signals()).containsExactly(1);
        assertThat(routing.route(1)).isEqualTo(MsiMessage.of(0xfee0_1000L, 0x4041));
    }

    @Test
    void msixMaskedVectorSetsPendingBit() {
        writeControl(MsixCapability.CONTROL_ENABLE);
        program(2, 0xfee0_0000L, 0x30);
        msix.vector(2).signal();
        assertThat(routing.signals()).isEmpty();
        assertThat(msix.pending(2)).isTrue();
        assertThat(msix.readPba(0, 8)).isEqualTo(0b100L);
    }

    @Test
    void unmaskingAPendingVectorDeliversItAndClearsThePendingBit() {
        writeControl(MsixCapability.CONTROL_ENABLE);
        program(2, 0xfee0_0000L, 0x30);
        msix.vector(2).signal();
        mask(2, false);
        assertThat(routing.signals()).containsExactly(2);
        assertThat(msix.readPba(0, 8)).isZero();
    }

    @Test
    void functionMaskHoldsEveryVectorUntilCleared() {
        writeControl(MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_FUNCTION_MASK);
        program(0, 0xfee0_0000L, 0x31);
        mask(0, false);
        msix.vector(0).signal();
        assertThat(routing.signals()).isEmpty();
        assertThat(msix.pending(0)).isTrue();
        writeControl(MsixCapability.CONTROL_ENABLE);
        assertThat(routing.signals()).containsExactly(0);
    }

    @Test
    void signalWhileMsixIsDisabledIsDropped() {
        program(0, 0xfee0_0000L, 0x31);
        mask(0, false);
        msix.vector(0).signal();
        assertThat(routing.signals()).isEmpty();
        assertThat(msix.pending(0)).isFalse();
    }

    @Test
    void reprogrammedMessageIsRoutedBeforeTheNextSignal() {
        writeControl(MsixCapability.CONTROL_ENABLE);
        program(0, 0xfee0_0000L, 0x31);
        mask(0, false);
        msix.vector(0).signal();
        mask(0, true);
        program(0, 0xfee0_2000L, 0x52);
        mask(0, false);
        msix.vector(0).signal();
        assertThat(routing.route(0)).isEqualTo(MsiMessage.of(0xfee0_2000L, 0x52));
        assertThat(routing.count(0)).isEqualTo(2);
    }

    @Test
    void reservedVectorControlBitsReadAsZero() {
        msix.writeTable(12, 4, 0xffff_fffeL);
        assertThat(msix.readTable(12, 4)).isZero();
    }

    @Test
    void tableReadsBackWithEightByteAccesses() {
        msix.writeTable(16, 8, 0x0000_0001_fee0_1000L);
        assertThat(msix.readTable(16, 8)).isEqualTo(0x0000_0001_fee0_1000L);
        assertThat(msix.readTable(16, 4)).isEqualTo(0xfee0_1000L);
    }
}
