package dev.nimbus.conformance;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.KernelSpeed;
import java.nio.file.Files;
import java.util.Optional;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

class KvmRequirementTest {
    @TempDir Path dir;

    @Test
    void missingDeviceOnCiFailsTheTest() {
        assertThatThrownBy(() -> KvmRequirement.check(dir.resolve("kvm"), "true"))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("does not exist")
                .hasMessageContaining("CI=true");
    }

    @Test
    void missingDeviceOutsideCiAbortsTheTestWithTheReason() {
        assertThatThrownBy(() -> KvmRequirement.check(dir.resolve("kvm"), null))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining(dir.resolve("kvm") + " does not exist")
                .hasMessageContaining("./mvnw verify");
    }

    @Test
    void ciValueOtherThanTrueAbortsRatherThanFails() {
        assertThatThrownBy(() -> KvmRequirement.check(dir.resolve("kvm"), "false"))
                .isInstanceOf(TestAbortedException.class);
    }

    @Test
    void usableDeviceLetsTheTestRunEvenOnCi() throws Exception {
        Path device = Files.createFile(dir.resolve("kvm"));
        assertThatCode(() -> KvmRequirement.check(device, "true")).doesNotThrowAnyException();
    }

    private static final KernelSpeed PVM = new KernelSpeed(1.9e6, 8.0e9, Optional.of("kernel module kvm_pvm (pvm_native=Y)"));

    @Test
    void emulatingKvmOnCiFailsTheTestNamingTheMeasurement() {
        assertThatThrownBy(() -> KvmRequirement.checkSpeed(Availability.measured("/dev/kvm", PVM), "true"))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("/dev/kvm emulates guest kernel code")
                .hasMessageContaining("kvm_pvm")
                .hasMessageContaining("1.9 M loop iterations/s")
                .hasMessageContaining("CI=true");
    }

    @Test
    void emulatingKvmOutsideCiAbortsTheTest() {
        assertThatThrownBy(() -> KvmRequirement.checkSpeed(Availability.measured("/dev/kvm", PVM), null))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("-Dnimbus.kvm=l1");
    }

    @Test
    void hardwareSpeedKvmLetsTheTestRun() {
        KernelSpeed hw = new KernelSpeed(2.9e9, 3.0e9, Optional.empty());
        assertThatCode(() -> KvmRequirement.checkSpeed(Availability.measured("/dev/kvm", hw), "true")).doesNotThrowAnyException();
    }
}
