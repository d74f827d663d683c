package dev.nimbus.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.KernelSpeed;
import dev.nimbus.kvm.KvmHypervisor;
import org.junit.jupiter.api.Test;

/**
 * The KVM backend's kernel-speed probe on a real KVM: in the L1 rig (nested KVM under QEMU TCG) and on hardware
 * KVM, guest kernel code runs as fast as user code, so the probe must say {@link Availability.Kind#USABLE}.
 * Were it to say otherwise, {@link RequiresKvm} would refuse every KVM test in L1.
 */
@RequiresKvm
class KernelSpeedKvmTest {

    @Test
    void thisKvmRunsGuestKernelCodeAtHardwareSpeed() {
        Availability a = new KvmHypervisor().availability();
        System.out.println("KernelSpeedKvmTest: " + Arch.host().id() + ": " + a.kind() + ": " + a.reason());

        assertThat(a.kind()).as(a.summary()).isEqualTo(Availability.Kind.USABLE);
        if (Arch.host() == Arch.X86_64) {
            KernelSpeed s = a.speed().orElseThrow(() -> new AssertionError("x86-64 is probed: " + a.reason()));
            assertThat(s.kernelEmulated()).isFalse();
            assertThat(s.ratio()).as(s.describe()).isLessThan(KernelSpeed.EMULATION_RATIO);
            assertThat(a.reason()).contains("guest kernel code ran ");
        } else {
            assertThat(a.speed()).as("only x86-64 is probed").isEmpty();
        }
    }

    @Test
    void theProbeRunsOncePerProcess() {
        KvmHypervisor kvm = new KvmHypervisor();
        Availability first = kvm.availability();
        Availability second = new KvmHypervisor().availability();
        if (Arch.host() == Arch.X86_64) {
            assertThat(second).as("the measured answer is kept, not measured again").isSameAs(first);
        } else {
            assertThat(second).isEqualTo(first);
        }
    }
}
