package dev.nimbus.junit;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test class whose tests boot microVMs: fields and parameters of type {@link dev.nimbus.api.MicroVm}
 * annotated with {@link Boot} get a started VM, closed after the test (an instance field or a parameter) or
 * after the class (a static field).
 *
 * <p>On a host where the hypervisor cannot run guests at hardware speed (no {@code /dev/kvm}, no permission,
 * a {@code /dev/kvm} that emulates guest kernel code), each test is <em>aborted</em> with the reason; with
 * the environment variable {@code CI=true} it <em>fails</em> instead, so a CI job never passes without
 * having booted its guests. When a test fails, each of its VMs' console transcripts is attached to the test's
 * report.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ExtendWith(MicroVmExtension.class)
public @interface MicroVmTest {}
