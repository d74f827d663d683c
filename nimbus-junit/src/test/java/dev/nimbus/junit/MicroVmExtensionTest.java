package dev.nimbus.junit;

import dev.nimbus.api.MicroVm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * The extension on hosts where no VM can boot, and with the test author's mistakes: each nested class is run by
 * JUnit's own engine ({@link EngineTestKit}) and its events checked. None of them boots a VM (MSHV exists on
 * no machine of this project); booting is proven in the L1 rig (conformance-tests' {@code EmbeddingTest} and
 * examples/junit-demo).
 */
class MicroVmExtensionTest {
    @AfterEach
    void realEnvironment() {
        MicroVmExtension.environment = System::getenv;
    }

    private static Events run(Class<?> type, String ci) {
        MicroVmExtension.environment = name -> name.equals("CI") ? ci : System.getenv(name);
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(type)).execute().testEvents();
    }

    /** Every event, the class's own included: a mistake in a field fails the class before any test runs. */
    private static Events runAll(Class<?> type) {
        MicroVmExtension.environment = System::getenv;
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(type)).execute().allEvents();
    }

    @MicroVmTest
    static class OnMshv {
        @Boot(kernel = "/boot/vmlinux", hypervisor = "mshv")
        MicroVm vm;

        @Test
        void boots() {
            throw new AssertionError("never reached: no VM can boot here");
        }
    }

    @MicroVmTest
    static class ParameterOnMshv {
        @Test
        void boots(@Boot(kernel = "/boot/vmlinux", hypervisor = "mshv") MicroVm vm) {
            throw new AssertionError("never reached: no VM can boot here");
        }
    }

    @Test
    void withoutAUsableHypervisorATestIsAbortedWithTheReason() {
        for (Class<?> type : new Class<?>[] {OnMshv.class, ParameterOnMshv.class}) {
            Events events = run(type, null);
            assertThat(events.aborted().count()).as(type.getSimpleName()).isEqualTo(1);
            assertThat(events.aborted().list().getFirst().getRequiredPayload(org.junit.platform.engine.TestExecutionResult.class)
                    .getThrowable().orElseThrow().getMessage()).startsWith("no microVM can boot here: ").contains("/dev/mshv");
            assertThat(events.failed().count()).isZero();
        }
    }

    @Test
    void underCiTheSameTestFailsRatherThanBeingSkipped() {
        for (Class<?> type : new Class<?>[] {OnMshv.class, ParameterOnMshv.class}) {
            Events events = run(type, "true");
            assertThat(events.failed().count()).as(type.getSimpleName()).isEqualTo(1);
            assertThat(events.aborted().count()).isZero();
            Throwable t = events.failed().list().getFirst().getRequiredPayload(org.junit.platform.engine.TestExecutionResult.class)
                    .getThrowable().orElseThrow();
            String all = t.getMessage() + (t.getCause() == null ? "" : " " + t.getCause().getMessage());
            assertThat(all).contains("/dev/mshv").contains("CI=true");
        }
    }

    @MicroVmTest
    static class WrongFieldType {
        @Boot(kernel = "/boot/vmlinux", hypervisor = "mshv")
        String vm;

        @Test
        void boots() {
        }
    }

    @MicroVmTest
    static class MissingBuilderMethod {
        @Boot(builder = "noSuchMethod", hypervisor = "mshv")
        MicroVm vm;

        @Test
        void boots() {
        }
    }

    @MicroVmTest
    static class UnsetPlaceholder {
        @Boot(kernel = "${nimbus.test.no.such.property}", hypervisor = "mshv")
        MicroVm vm;

        @Test
        void boots() {
        }
    }

    @Test
    void theTestAuthorsMistakesFailOnAnyHostNamingWhatIsWrong() {
        Map<Class<?>, String> expected = Map.of(
                WrongFieldType.class, "@Boot WrongFieldType.vm: the field must be a dev.nimbus.api.MicroVm, not a java.lang.String",
                MissingBuilderMethod.class, "has no method noSuchMethod() returning MicroVm.Builder",
                UnsetPlaceholder.class, "@Boot kernel: ${nimbus.test.no.such.property} is set neither as a system property nor as an environment variable");
        expected.forEach((type, message) -> {
            Events events = runAll(type);
            assertThat(events.failed().count()).as(type.getSimpleName()).isEqualTo(1);
            assertThat(events.failed().list().getFirst().getRequiredPayload(org.junit.platform.engine.TestExecutionResult.class)
                    .getThrowable().orElseThrow()).isInstanceOf(ExtensionConfigurationException.class).hasMessageContaining(message);
        });
    }

    @Test
    void placeholdersComeFromSystemPropertiesThenTheEnvironment() {
        MicroVmExtension.environment = name -> name.equals("GUEST_DIR") ? "/srv/guests" : null;
        System.setProperty("nimbus.test.kernel", "vmlinux-6.1");
        try {
            assertThat(MicroVmExtension.expand("${GUEST_DIR}/${nimbus.test.kernel}", "kernel")).isEqualTo("/srv/guests/vmlinux-6.1");
            assertThat(MicroVmExtension.expand("no placeholder", "kernel")).isEqualTo("no placeholder");
            assertThatThrownBy(() -> MicroVmExtension.expand("${UNSET}", "initramfs"))
                    .hasMessageContaining("@Boot initramfs: ${UNSET}");
        } finally {
            System.clearProperty("nimbus.test.kernel");
        }
    }
}
