package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IrqChipConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Impossible interrupt-controller layouts are refused with a message before any ioctl is made; the GIC's fixed routes. */
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
    void gicV3RejectsAnItsFrameThatIsNot64KibAligned() {
        assertThatThrownBy(() -> GicV3IrqChip.create(
                new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L, OptionalLong.of(0x0808_1000L), 64), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ITS").hasMessageContaining("0x8081000");
    }

    @Test
    void gicV3LineRoutesAreKvmsDefaultTableOneSpiPerGsi() {
        List<GsiRoute> routes = GicV3IrqChip.lineRoutes(
                new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L, OptionalLong.empty(), 64));
        assertThat(routes).hasSize(64);
        assertThat(routes.getFirst()).isEqualTo(new GsiRoute.IrqchipPin(0, 0, 0));
        assertThat(routes.get(33)).isEqualTo(new GsiRoute.IrqchipPin(33, 0, 33));
        assertThat(routes.getLast()).isEqualTo(new GsiRoute.IrqchipPin(63, 0, 63));
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
