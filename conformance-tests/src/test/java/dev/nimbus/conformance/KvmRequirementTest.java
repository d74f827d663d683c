package dev.nimbus.conformance;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
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
}
