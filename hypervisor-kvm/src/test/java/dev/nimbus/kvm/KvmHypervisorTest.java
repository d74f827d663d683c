package dev.nimbus.kvm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.HypervisorRegistry;
import dev.nimbus.hypervisor.VmOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KvmHypervisorTest {
    @Test
    void isFoundByServiceLoaderUnderItsName() {
        HypervisorRegistry registry = HypervisorRegistry.discover(getClass().getClassLoader());

        assertThat(registry.byName("kvm")).get().isInstanceOf(KvmHypervisor.class);
    }

    @Test
    void missingDeviceIsUnusableAndSaysWhy() {
        Hypervisor kvm = new KvmHypervisor(Path.of("/nonexistent/kvm"), Arch.X86_64);

        assertThat(kvm.availability().usable()).isFalse();
        assertThat(kvm.availability().reason()).startsWith("/nonexistent/kvm does not exist");
        assertThat(kvm.capabilities()).isEmpty();
        assertThat(kvm.maxVcpus()).isZero();
    }

    @Test
    void creatingAVmWithoutTheDeviceFailsWithOneReadableLine() {
        Hypervisor kvm = new KvmHypervisor(Path.of("/nonexistent/kvm"), Arch.X86_64);

        assertThatThrownBy(() -> kvm.createVm(VmOptions.defaults()))
                .isInstanceOf(HypervisorException.class)
                .hasMessage("kvm: /nonexistent/kvm does not exist (the kvm module is not loaded, or this host has no hardware virtualization)")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void aDeviceThatIsNotKvmIsUnusableWithTheIoctlNamed(@TempDir Path dir) throws Exception {
        Path notKvm = Files.writeString(dir.resolve("kvm"), "");
        Hypervisor kvm = new KvmHypervisor(notKvm, Arch.X86_64);

        assertThat(kvm.availability().usable()).isFalse();
        assertThat(kvm.availability().reason()).isEqualTo("KVM_GET_API_VERSION failed: ENOTTY (Inappropriate ioctl for device)");
    }

    @Test
    void theKvmPvmModuleIsNamedAsTheCauseWithItsMode(@TempDir Path sys) throws Exception {
        assertThat(KernelSpeedProbe.knownCause(sys)).isEmpty();

        Path params = Files.createDirectories(sys.resolve("kvm_pvm/parameters"));
        assertThat(KernelSpeedProbe.knownCause(sys)).contains("kernel module kvm_pvm");

        Files.writeString(params.resolve("pvm_native"), "Y\n");
        assertThat(KernelSpeedProbe.knownCause(sys)).contains("kernel module kvm_pvm (pvm_native=Y)");
    }

    @Test
    void otherArchitecturesAreNotProbed(@TempDir Path dir) throws Exception {
        // the speed probe is x86-64 only: elsewhere the answer is the device's alone
        Path notKvm = Files.writeString(dir.resolve("kvm"), "");
        Hypervisor kvm = new KvmHypervisor(notKvm, Arch.AARCH64);
        assertThat(kvm.availability().speed()).isEmpty();
    }
}
