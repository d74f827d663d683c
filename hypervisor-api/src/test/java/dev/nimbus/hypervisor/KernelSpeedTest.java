package dev.nimbus.hypervisor;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The probe's decision, from given loop rates (iterations per second at CPL 0 and CPL 3). */
class KernelSpeedTest {
    private static final Optional<String> NONE = Optional.empty();

    @Test
    void hardwareKvmRunsBothLevelsAlikeAndIsNotEmulated() {
        KernelSpeed s = new KernelSpeed(2.9e9, 2.9e9, NONE);
        assertThat(s.kernelEmulated()).isFalse();
        assertThat(Availability.measured("/dev/kvm", s).kind()).isEqualTo(Availability.Kind.USABLE);
    }

    @Test
    void nestedKvmUnderAnEmulatorIsSlowAtBothLevelsAndNotEmulated() {
        // the L1 rig: absolute rates low (QEMU TCG), but kernel and user code alike
        KernelSpeed s = new KernelSpeed(4.1e7, 5.3e7, NONE);
        assertThat(s.kernelEmulated()).isFalse();
        assertThat(Availability.measured("/dev/kvm", s).usable()).isTrue();
    }

    @Test
    void kernelCodeThousandsOfTimesSlowerIsEmulated() {
        // measured on a kvm_pvm host in native mode (2026-12-03): 1.9 M/s at CPL 0, 8000 M/s at CPL 3
        KernelSpeed s = new KernelSpeed(1.9e6, 8.0e9, Optional.of("kernel module kvm_pvm (pvm_native=Y)"));
        assertThat(s.kernelEmulated()).isTrue();
        Availability a = Availability.measured("/dev/kvm", s);
        assertThat(a.kind()).isEqualTo(Availability.Kind.KERNEL_EMULATED);
        assertThat(a.usable()).as("a VM still starts when asked for").isTrue();
        assertThat(a.summary())
                .startsWith("/dev/kvm emulates guest kernel code instruction by instruction (kernel module kvm_pvm (pvm_native=Y)): ")
                .contains("guest kernel code ran 1.9 M loop iterations/s, user code 8000 M/s (user 4211x faster)")
                .doesNotContain("\n");
    }

    @Test
    void theThresholdIsTwentyTimes() {
        assertThat(new KernelSpeed(1e6, 19.9e6, NONE).kernelEmulated()).isFalse();
        assertThat(new KernelSpeed(1e6, 20e6, NONE).kernelEmulated()).isTrue();
    }

    @Test
    void kernelFasterThanUserIsNotEmulation() {
        KernelSpeed s = new KernelSpeed(3e9, 1e9, NONE);
        assertThat(s.kernelEmulated()).isFalse();
        assertThat(s.describe()).endsWith("(kernel 3.0x faster)");
    }

    @Test
    void ratesMustBePositiveAndFinite() {
        assertThatThrownBy(() -> new KernelSpeed(0, 1e9, NONE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KernelSpeed(1e9, Double.NaN, NONE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KernelSpeed(Double.POSITIVE_INFINITY, 1e9, NONE)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anEmulatedAvailabilityNeedsItsMeasurementAndAUsableOneRefusesAnEmulatedMeasurement() {
        KernelSpeed emulated = new KernelSpeed(1e6, 1e9, NONE);
        assertThatThrownBy(() -> new Availability(Availability.Kind.KERNEL_EMULATED, "/dev/kvm", Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Availability.usable("/dev/kvm", emulated)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unusableAndPlainUsableSummariesAreTheirReasons() {
        assertThat(Availability.unusable("/dev/kvm does not exist").summary()).isEqualTo("/dev/kvm does not exist");
        assertThat(Availability.usable("/dev/kvm, API version 12").kernelEmulated()).isFalse();
    }
}
