package dev.nimbus.conformance.backend;

import dev.nimbus.conformance.HangDiagnostics;
import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.ClassTemplate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a class of the backend conformance kit: its tests run once per backend the kit is meant for
 * ({@link KitBackend}: {@code kvm}, then {@code mshv}), each set named by its backend, which the class takes
 * in its constructor. Each backend's cases carry that backend's requirement: the KVM ones
 * {@link RequiresKvm}'s rule (aborted outside CI, failed under {@code CI=true}), the MSHV ones aborted with
 * the reason wherever {@code /dev/mshv} is missing.
 *
 * <p>The class carries the tag {@value RequiresKvm#TAG}: Surefire's host run leaves it out and
 * {@code l1/kvm-tests} runs it with the KVM tests (on the host's {@code /dev/kvm} or in L1), as before the kit
 * had a second backend. Where the KVM cases cannot run, the requirement says so per case rather than once per
 * class.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ClassTemplate
@Tag(RequiresKvm.TAG)
@ExtendWith({KitBackends.class, HangDiagnostics.class})
@interface ConformanceKit {
}
