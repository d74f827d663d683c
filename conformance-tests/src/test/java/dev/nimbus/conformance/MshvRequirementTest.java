package dev.nimbus.conformance;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.hypervisor.Availability;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

class MshvRequirementTest {
    @TempDir Path dir;

    @Test
    void missingDeviceAbortsTheCaseNamingIt() {
        assertThatThrownBy(() -> MshvRequirement.check(dir.resolve("mshv"), () -> {
            throw new AssertionError("availability() is not asked without the device");
        }))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("no " + dir.resolve("mshv") + " on this machine");
    }

    @Test
    void deviceTheBackendCannotUseAbortsTheCaseWithTheBackendsReason() throws Exception {
        Path device = Files.createFile(dir.resolve("mshv"));

        assertThatThrownBy(() -> MshvRequirement.check(device, () -> Availability.unusable("cannot open /dev/mshv: EACCES")))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("cannot open /dev/mshv: EACCES");
    }

    @Test
    void usableBackendLetsTheCaseRun() throws Exception {
        Path device = Files.createFile(dir.resolve("mshv"));

        assertThatCode(() -> MshvRequirement.check(device, () -> Availability.usable("/dev/mshv"))).doesNotThrowAnyException();
    }
}
