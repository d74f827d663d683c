package dev.nimbus.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * How to boot the {@link dev.nimbus.api.MicroVm} in a field or parameter of a {@link MicroVmTest} class.
 *
 * <p>Every text may hold {@code ${name}} placeholders, taken from the system property {@code name}, else from
 * the environment variable {@code name}: {@code kernel = "${nimbus.kernel}"} lets a build name the guest's
 * files without the test naming paths. A placeholder that is set nowhere fails the test, naming it.
 *
 * <p>For a configuration the attributes cannot say, name a {@link #builder()} method that returns a
 * {@link dev.nimbus.api.MicroVm.Builder}; the attributes given are then applied on top of it.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.PARAMETER})
public @interface Boot {
    /** {@return the kernel ({@code --kernel}); required unless {@link #builder()} sets it} */
    String kernel() default "";

    /** {@return the initramfs ({@code --initramfs}), if any} */
    String initramfs() default "";

    /** {@return the kernel command line ({@code --cmdline})} */
    String cmdline() default "";

    /** {@return how many vCPUs boot; 0 leaves the builder's (1 by default)} */
    int cpus() default 0;

    /** {@return guest RAM in MiB; 0 leaves the builder's (512 by default)} */
    long memoryMib() default 0;

    /** {@return virtio-blk disks, each as {@code --disk} takes it ({@code path=disk.raw,readonly=on})} */
    String[] disks() default {};

    /** {@return virtio-net devices, each as {@code --net} takes it ({@code tap=tap0})} */
    String[] nets() default {};

    /** {@return whether the VM has a virtio-rng device} */
    boolean rng() default false;

    /** {@return the hypervisor backend: {@code auto}, {@code kvm} or {@code mshv}} */
    String hypervisor() default "auto";

    /**
     * A regular expression the serial console must print (in one line) before the test gets the VM, such as
     * the guest's "ready" marker; empty: the test gets the VM as soon as it started.
     *
     * @return the regular expression, or empty
     */
    String awaitLine() default "";

    /** {@return how long {@link #awaitLine()} may take, in seconds} */
    long awaitSeconds() default 120;

    /**
     * The name of a method of the test class (static for a static field; no parameters) that returns a
     * {@link dev.nimbus.api.MicroVm.Builder} to start from.
     *
     * @return the method's name, or empty
     */
    String builder() default "";
}
