package dev.nimbus.hypervisor;

import java.util.Objects;

/**
 * Whether a {@link Hypervisor} can be used on this host, and if not, why not, in words a user can act on
 * ({@code /dev/kvm does not exist: the kvm module is not loaded or this host has no virtualization}).
 */
public record Availability(boolean usable, String reason) {
    public Availability {
        Objects.requireNonNull(reason, "reason");
    }

    public static Availability usable(String detail) {
        return new Availability(true, detail);
    }

    public static Availability unusable(String reason) {
        return new Availability(false, reason);
    }
}
