package dev.nimbus.conformance.backend;

import dev.nimbus.conformance.KvmRequirement;
import dev.nimbus.conformance.MshvRequirement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ClassTemplateInvocationContext;
import org.junit.platform.engine.UniqueId;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectUniqueId;

/**
 * The kit's plumbing, without a {@code /dev/mshv}: which backends its classes run on, what each case needs, and
 * that on a machine without {@code /dev/mshv} the real kit's MSHV cases are reported as aborted with the reason,
 * none as passed. (Their passing is proven only on a Microsoft Hypervisor host; nothing here pretends to.)
 */
class KitBackendsTest {
    @Test
    void everyKitClassRunsOnKvmThenOnMshvNamedByTheBackend() {
        List<ClassTemplateInvocationContext> cases = new KitBackends().provideClassTemplateInvocationContexts(null).toList();

        assertThat(cases).extracting(c -> c.getDisplayName(1)).containsExactly("kvm", "mshv");
    }

    @Test
    void kvmCasesKeepTheKvmRequirementAndMshvCasesGetTheirOwn() {
        List<ClassTemplateInvocationContext> cases = new KitBackends().provideClassTemplateInvocationContexts(null).toList();

        assertThat(cases.get(0).getAdditionalExtensions()).filteredOn(CaseRequirement.class::isInstance)
                .singleElement().extracting(e -> ((CaseRequirement) e).check()).isInstanceOf(KvmRequirement.class);
        assertThat(cases.get(1).getAdditionalExtensions()).filteredOn(CaseRequirement.class::isInstance)
                .singleElement().extracting(e -> ((CaseRequirement) e).check()).isInstanceOf(MshvRequirement.class);
    }

    @Test
    void withoutDevMshvEveryMshvCaseOfTheKitIsAbortedWithTheReasonAndNonePasses() {
        assumeFalse(Files.exists(Path.of("/dev/mshv")), "this machine has /dev/mshv: the kit's MSHV cases run for real here");
        for (Class<?> kit : List.of(BackendConformanceTest.class, X86VcpuConformanceTest.class)) {
            // the real kit class, its second invocation (mshv) only: the first (kvm) would run KVM guests here
            UniqueId mshv = UniqueId.forEngine("junit-jupiter").append("class-template", kit.getName())
                    .append("class-template-invocation", "#2");

            EngineExecutionResults results = EngineTestKit.engine("junit-jupiter").selectors(selectUniqueId(mshv)).execute();

            List<Event> started = results.containerEvents().started().list();
            assertThat(started).as(kit.getSimpleName() + ": the case set named mshv started")
                    .anyMatch(e -> e.getTestDescriptor().getDisplayName().equals("mshv"));
            assertThat(started).as("no kvm case was run").noneMatch(e -> e.getTestDescriptor().getDisplayName().equals("kvm"));
            assertThat(results.allEvents().succeeded().filter(e -> e.getTestDescriptor().isTest()).count())
                    .as(kit.getSimpleName() + ": no MSHV case counted as passed").isZero();
            assertThat(results.testEvents().failed().count()).isZero();
            assertThat(results.testEvents().aborted().count()).as(kit.getSimpleName() + ": each MSHV case reported, aborted")
                    .isEqualTo(results.testEvents().started().count()).isPositive();
            List<Throwable> aborts = results.allEvents().aborted().stream()
                    .map(e -> e.getPayload(org.junit.platform.engine.TestExecutionResult.class).orElseThrow().getThrowable().orElseThrow())
                    .toList();
            assertThat(aborts).as(kit.getSimpleName() + ": aborted, with the reason").isNotEmpty()
                    .allSatisfy(t -> assertThat(t).hasMessageContaining("no /dev/mshv on this machine"));
        }
    }
}
