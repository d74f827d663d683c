package dev.nimbus.hypervisor.x86;

import dev.nimbus.hypervisor.GuestClock;
import dev.nimbus.hypervisor.Vm;

/** x86-64 VM-wide state: the paravirtual clock that pause and resume keep consistent. */
public interface X86Vm extends Vm, GuestClock {
    /** The guest's kvmclock value in nanoseconds. */
    @Override
    long getClock();

    /** Sets the guest's kvmclock value in nanoseconds. */
    @Override
    void setClock(long nanos);
}
