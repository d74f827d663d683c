package dev.nimbus.devices.interrupt;

import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.host.EventFd;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IrqLineTest {
    /** An interrupt controller that records setIrqLine calls as "gsi:level". */
    static final class RecordingIrqChip implements IrqChip {
        final List<String> calls = new ArrayList<>();

        @Override
        public IrqChipConfig config() {
            return new IrqChipConfig.X86Legacy(0xfffb_d000L, 0xfffb_c000L, true);
        }

        @Override
        public void finishSetup() {}

        @Override
        public void setIrqLine(int gsi, boolean high) {
            calls.add(gsi + ":" + (high ? 1 : 0));
        }

        @Override
        public void signalMsi(MsiMessage message) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void irqChipLineDrivesItsGsi() {
        RecordingIrqChip chip = new RecordingIrqChip();
        IrqLine com1 = new IrqChipLine(chip, 4);

        com1.set(true);
        com1.set(false);
        com1.pulse();

        assertThat(chip.calls).containsExactly("4:1", "4:0", "4:1", "4:0");
    }

    @Test
    void irqChipLineNeedsAGsi() {
        assertThatThrownBy(() -> new IrqChipLine(new RecordingIrqChip(), -1))
                .hasMessageContaining("GSI >= 0");
    }

    @Test
    void eventFdLineSignalsOncePerRisingEdge() {
        try (EventFd fd = EventFd.createNonBlocking()) {
            IrqLine line = new EventFdIrqLine(fd);

            line.set(true);
            line.set(true); // still high: no new edge
            assertThat(fd.read()).isEqualTo(1);

            line.set(false);
            assertThat(fd.read()).isZero();
            line.set(true);
            assertThat(fd.read()).isEqualTo(1);
        }
    }

    @Test
    void eventFdLinePulseSignalsEachTime() {
        try (EventFd fd = EventFd.createNonBlocking()) {
            IrqLine line = new EventFdIrqLine(fd);

            line.pulse();
            line.pulse();

            assertThat(fd.read()).isEqualTo(2);
        }
    }
}
