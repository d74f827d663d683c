package dev.nimbus.conformance;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs a real {@code /dev/kvm}.
 *
 * <p>Such tests carry the JUnit tag {@value #TAG}. The host's Surefire run leaves them out; {@code ./mvnw verify}
 * runs them afterwards, in the integration-test phase of conformance-tests, through the JUnit console launcher:
 * directly when this machine has {@code /dev/kvm}, otherwise inside an L1 guest of each architecture
 * ({@code conformance-tests/l1/run-in-l1}). A failure there fails the build. See docs/testing.md.
 *
 * <p>When such a test is started on a machine without a usable {@code /dev/kvm} (from an IDE, say), it is
 * aborted with the reason, or fails when the environment variable {@code CI} is {@code true}: on CI a KVM test is
 * never skipped silently. A test the L1 run's time limit interrupts leaves thread dumps ({@link HangDiagnostics}).
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Tag(RequiresKvm.TAG)
@ExtendWith({KvmRequirement.class, HangDiagnostics.class})
public @interface RequiresKvm {
    /** The JUnit tag of KVM tests. */
    String TAG = "kvm";
}
