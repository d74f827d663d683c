package dev.nimbus.hypervisor;

import java.util.Objects;
import java.util.Optional;

/**
 * Whether a {@link Hypervisor} can be used on this host, and if not, why not, in words a user can act on
 * ({@code /dev/kvm does not exist: the kvm module is not loaded or this host has no virtualization}).
 *
 * <p>Three kinds: {@link Kind#USABLE}; {@link Kind#KERNEL_EMULATED}, usable but the host runs guest kernel
 * code through an instruction emulator, so a guest boots very slowly or stops on an instruction the emulator
 * lacks (a VM still starts when asked for; callers warn, and tools that pick a place to run prefer another);
 * and {@link Kind#UNUSABLE}. {@link #speed()} carries the measurement behind the first two, when the backend
 * made one.
 */
public record Availability(Kind kind, String reason, Optional<KernelSpeed> speed) {
    /** The three answers. */
    public enum Kind { USABLE, KERNEL_EMULATED, UNUSABLE }

    public Availability {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(speed, "speed");
        if (kind == Kind.KERNEL_EMULATED && speed.isEmpty()) {
            throw new IllegalArgumentException("KERNEL_EMULATED needs the measurement that found it");
        }
    }

    /** Whether VMs can be created here at all (also when guest kernel code is emulated). */
    public boolean usable() {
        return kind != Kind.UNUSABLE;
    }

    /** Whether this host runs guest kernel code through an instruction emulator. */
    public boolean kernelEmulated() {
        return kind == Kind.KERNEL_EMULATED;
    }

    /**
     * One line for a user: what was measured and what it means, for a {@link Kind#KERNEL_EMULATED} host;
     * the reason otherwise.
     */
    public String summary() {
        if (!kernelEmulated()) {
            return reason;
        }
        KernelSpeed s = speed.orElseThrow();
        return reason + " emulates guest kernel code instruction by instruction"
                + s.knownCause().map(c -> " (" + c + ")").orElse("") + ": " + s.describe()
                + "; a Linux guest boots very slowly here and may stop on an instruction the emulator lacks";
    }

    public static Availability usable(String detail) {
        return new Availability(Kind.USABLE, detail, Optional.empty());
    }

    /** Usable, with the speed measurement that showed kernel code runs at hardware speed. */
    public static Availability usable(String detail, KernelSpeed speed) {
        if (speed.kernelEmulated()) {
            throw new IllegalArgumentException("this measurement shows emulated kernel code: " + speed.describe());
        }
        return new Availability(Kind.USABLE, detail, Optional.of(speed));
    }

    /** Usable, but guest kernel code is emulated: {@code what} names the device ({@code /dev/kvm}). */
    public static Availability kernelEmulated(String what, KernelSpeed speed) {
        return new Availability(Kind.KERNEL_EMULATED, what, Optional.of(speed));
    }

    /** From a measurement: {@link Kind#USABLE} or {@link Kind#KERNEL_EMULATED}, as the rates decide. */
    public static Availability measured(String what, KernelSpeed speed) {
        return speed.kernelEmulated() ? kernelEmulated(what, speed) : usable(what, speed);
    }

    public static Availability unusable(String reason) {
        return new Availability(Kind.UNUSABLE, reason, Optional.empty());
    }
}
