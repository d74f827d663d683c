package dev.nimbus.hypervisor;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * How fast this host's hypervisor runs guest code in the guest's kernel mode against its user mode, as a
 * backend measured it: the same counted loop, once at the highest privilege (x86 CPL 0) and once at the
 * lowest (CPL 3), in loop iterations per second.
 *
 * <p>Under hardware virtualization both run natively, and under nested virtualization both run the same
 * way, so the rates are close. Some hosts offer a {@code /dev/kvm} that runs guest user code natively but
 * every kernel-mode instruction through the host kernel's instruction emulator (PVM-style modules on cloud
 * VMs without nested virtualization); there kernel code is about a thousand times slower, and a Linux guest
 * takes minutes to print its first line or stops on an instruction the emulator lacks.
 * {@link #kernelEmulated()} tells them apart; {@link #knownCause()} names the kernel module when the host
 * says which one it is.
 *
 * @param kernelRate loop iterations per second in guest kernel mode
 * @param userRate loop iterations per second in guest user mode
 * @param knownCause what the host names as the cause ({@code kvm_pvm (pvm_native=Y)}), if anything
 */
public record KernelSpeed(double kernelRate, double userRate, Optional<String> knownCause) {
    /**
     * User code faster than kernel code by this factor or more means kernel code is emulated. Hardware and
     * nested virtualization measure about 1; an emulating host about 2,000. Anything from 3 to 100 would
     * separate them; 20 leaves room for noise on both sides.
     */
    public static final double EMULATION_RATIO = 20;

    public KernelSpeed {
        Objects.requireNonNull(knownCause, "knownCause");
        if (!(kernelRate > 0) || !(userRate > 0) || Double.isInfinite(kernelRate) || Double.isInfinite(userRate)) {
            throw new IllegalArgumentException("loop rates must be positive and finite (kernel " + kernelRate + ", user " + userRate + ")");
        }
    }

    /** How many times faster user code ran than kernel code. */
    public double ratio() {
        return userRate / kernelRate;
    }

    /** Whether guest kernel code is emulated rather than run on the processor: the ratio decides. */
    public boolean kernelEmulated() {
        return ratio() >= EMULATION_RATIO;
    }

    /**
     * The measurement in one phrase: {@code guest kernel code ran 0.7 M loop iterations/s, user code 2900 M/s
     * (4143x faster)}.
     */
    public String describe() {
        return String.format(Locale.ROOT, "guest kernel code ran %s loop iterations/s, user code %s/s (%s)",
                rate(kernelRate), rate(userRate), relation());
    }

    private String relation() {
        double r = ratio();
        if (r >= 1) {
            return String.format(Locale.ROOT, "user %.0fx faster", r);
        }
        return String.format(Locale.ROOT, "kernel %.1fx faster", 1 / r);
    }

    private static String rate(double perSecond) {
        if (perSecond >= 1e8) {
            return String.format(Locale.ROOT, "%.0f M", perSecond / 1e6);
        }
        if (perSecond >= 1e6) {
            return String.format(Locale.ROOT, "%.1f M", perSecond / 1e6);
        }
        return String.format(Locale.ROOT, "%.2f M", perSecond / 1e6);
    }
}
