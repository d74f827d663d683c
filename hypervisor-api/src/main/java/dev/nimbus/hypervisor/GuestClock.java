package dev.nimbus.hypervisor;

/**
 * An optional capability of a {@link Vm}: a VM-wide guest clock the hypervisor keeps running while the
 * vCPUs are stopped. A VMM that pauses a guest reads it when the vCPUs stop and writes it back before they
 * run again, so the guest does not see the paused time as a jump of its clock (on x86-64 with KVM this is
 * kvmclock: {@code KVM_GET_CLOCK} / {@code KVM_SET_CLOCK}).
 *
 * <p>Asked for with {@code vm instanceof GuestClock} (or {@link Vm#as(Class)}): a backend or architecture
 * without such a clock simply does not implement it, and the VMM needs no architecture branch.
 */
public interface GuestClock {
    /** The guest clock's value in nanoseconds. */
    long getClock();

    /** Sets the guest clock to {@code nanos}, a value an earlier {@link #getClock()} returned. */
    void setClock(long nanos);
}
