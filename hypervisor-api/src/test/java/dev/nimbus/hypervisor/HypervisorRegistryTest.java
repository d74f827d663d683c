package dev.nimbus.hypervisor;

import dev.nimbus.hypervisor.HypervisorRegistry.NoUsableHypervisorException;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HypervisorRegistryTest {
    /** A backend whose availability is fixed; selection only looks at name and availability. */
    private record FixedBackend(String name, Availability availability) implements Hypervisor {
        @Override
        public Set<Arch> architectures() {
            return EnumSet.allOf(Arch.class);
        }

        @Override
        public Set<Capability> capabilities() {
            return Set.of();
        }

        @Override
        public Set<Long> runtimeIoctls() {
            return Set.of();
        }

        @Override
        public int maxVcpus() {
            return 1;
        }

        @Override
        public Vm createVm(VmOptions options) {
            throw new UnsupportedOperationException();
        }
    }

    private static final Hypervisor KVM_DOWN = new FixedBackend("kvm", Availability.unusable("/dev/kvm does not exist"));
    private static final Hypervisor KVM_UP = new FixedBackend("kvm", Availability.usable("/dev/kvm"));
    private static final Hypervisor MSHV_UP = new FixedBackend("mshv", Availability.usable("/dev/mshv"));
    private static final Hypervisor MSHV_DOWN = new FixedBackend("mshv", Availability.unusable("/dev/mshv does not exist"));

    @Test
    void autoPrefersKvmOverMshvWhateverTheDiscoveryOrder() {
        assertThat(HypervisorRegistry.of(List.of(MSHV_UP, KVM_UP)).select("auto")).isSameAs(KVM_UP);
    }

    @Test
    void autoFallsBackToMshvWhenKvmIsUnusable() {
        assertThat(HypervisorRegistry.of(List.of(KVM_DOWN, MSHV_UP)).select("auto")).isSameAs(MSHV_UP);
    }

    @Test
    void autoWithNothingUsableListsEveryBackendAndWhy() {
        assertThatThrownBy(() -> HypervisorRegistry.of(List.of(KVM_DOWN, MSHV_DOWN)).select("auto"))
                .isInstanceOf(NoUsableHypervisorException.class)
                .hasMessage("no usable hypervisor:\n  kvm: /dev/kvm does not exist\n  mshv: /dev/mshv does not exist");
    }

    @Test
    void namedBackendThatIsUnusableSaysWhy() {
        assertThatThrownBy(() -> HypervisorRegistry.of(List.of(KVM_UP, MSHV_DOWN)).select("mshv"))
                .hasMessage("hypervisor 'mshv' is not usable: /dev/mshv does not exist");
    }

    @Test
    void namedBackendThatIsAbsentIsReported() {
        assertThatThrownBy(() -> HypervisorRegistry.of(List.of(KVM_UP)).select("mshv"))
                .hasMessageStartingWith("hypervisor 'mshv' is not available in this build:\n  kvm: usable");
    }

    @Test
    void selectionIgnoresCase() {
        assertThat(HypervisorRegistry.of(List.of(KVM_UP)).select("KVM")).isSameAs(KVM_UP);
    }

    @Test
    void emptyClassPathIsExplained() {
        assertThatThrownBy(() -> HypervisorRegistry.of(List.of()).select("auto"))
                .hasMessage("no usable hypervisor: no hypervisor backend is on the class path");
    }
}
