package dev.nimbus.devices.pci;

import dev.nimbus.hypervisor.MsiMessage;

/**
 * Where a function's MSI-X vectors go, implemented by the VMM: typically one GSI and one irqfd per vector
 * ({@code Vm.registerIrqfd} once, {@code Vm.setGsiRouting} with a {@code GsiRoute.Msi} whenever the guest
 * reprograms the vector, {@code EventFd.signal()} to fire it). Masking and pending bits are handled by
 * {@link MsixCapability} before these calls, so an implementation never sees a masked vector fire.
 * Calls may come from any thread.
 */
public interface MsiRouting {
    /**
     * Vector {@code vector} now delivers {@code message}. Called when MSI-X is enabled and the vector is
     * unmasked and its entry may have changed, before the first {@link #signal(int)} with that message.
     */
    void configure(int vector, MsiMessage message);

    /** Sends vector {@code vector}'s message, last given to {@link #configure}. */
    void signal(int vector);
}
