package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChipConfig;
import org.junit.jupiter.api.Test;

import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Impossible interrupt-controller layouts are refused with a message before any ioctl is made. */
class IrqChipConfigValidationTest {
    @Test
    void gicV3RejectsAnSpiCountThatIsNotAMultipleOf32() {
        assertThatThrownBy(() -> GicV3IrqChip.create(
                new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L, OptionalLong.empty(), 40), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 32").hasMessageContaining("40");
    }

    @Test
    void gicV3RejectsMoreSpisThanTheGicHasIds() {
        assertThatThrownBy(() -> GicV3IrqChip.create(
                new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L, OptionalLong.empty(), 1024), null))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aiaRejectsIdsThatAreNotOneLessThanAMultipleOf64() {
        assertThatThrownBy(() -> AiaIrqChip.create(new IrqChipConfig.Aia(0x0c00_0000L, 0x2800_0000L, 32, 100), null, () -> 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("100");
    }

    @Test
    void aiaRejectsZeroWiredSources() {
        assertThatThrownBy(() -> AiaIrqChip.create(new IrqChipConfig.Aia(0x0c00_0000L, 0x2800_0000L, 0, 63), null, () -> 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1-1023");
    }
}
