package dev.nimbus.hypervisor;

/**
 * One virtual CPU of a {@link Vm}. A vCPU belongs to one thread: {@link #run()} and the register accessors
 * are called from that thread only. {@link #kick()} is the exception: any thread may call it.
 *
 * <p>Architecture-specific state (x86-64 registers, CPUID, LAPIC; AArch64 and riscv64 one-reg access) is
 * reached through the sub-interfaces in {@code dev.nimbus.hypervisor.x86}, {@code .aarch64} and
 * {@code .riscv64}, which a backend's vCPU implements for the architectures it supports; arch modules ask
 * for them with {@link #as(Class)}.
 */
public interface Vcpu extends AutoCloseable {
    /** The id given to {@link Vm#createVcpu} (the APIC id / MPIDR index / hart id). */
    int id();

    /**
     * Runs the guest on this vCPU until it exits to user space, and says why. Handle the exit (an I/O exit's
     * response included) before calling again. Returns {@link VcpuExit.Interrupted} when {@link #kick()}
     * was called, promptly, even if the call came before this one began.
     */
    VcpuExit run();

    /**
     * Makes a current or the next {@link #run()} return {@link VcpuExit.Interrupted} promptly, without
     * losing the exit being handled. Safe from any thread; used for pause, shutdown and reboot.
     */
    void kick();

    /**
     * The vCPU's whole architectural state, for a snapshot: records that the same backend's
     * {@link #restoreState} reads (registers, FPU/XSAVE, MSRs, local interrupt controller, pending events,
     * power state, CPUID as set). Called on the vCPU's thread between runs, while the machine is paused; an
     * exit being handled is completed first (an I/O read's data reaches the guest), so the state is the one
     * the next {@link #run()} would start from.
     *
     * @throws UnsupportedOperationException where the backend cannot save a vCPU
     */
    default java.util.List<dev.nimbus.hypervisor.state.StateRecord> saveState() {
        throw new UnsupportedOperationException("this vCPU (" + getClass().getSimpleName() + ") cannot be saved");
    }

    /**
     * Puts saved state back into this freshly created vCPU, before its first run, on its thread. Checks
     * everything it can first (record versions and lengths, CPUID features against the host's) and throws
     * a {@link dev.nimbus.hypervisor.state.StateException} naming the difference.
     */
    default void restoreState(java.util.List<dev.nimbus.hypervisor.state.StateRecord> records) {
        throw new UnsupportedOperationException("this vCPU (" + getClass().getSimpleName() + ") cannot be restored");
    }

    /** This vCPU seen as an architecture sub-interface, for example {@code vcpu.as(X86Vcpu.class)}. */
    default <T> T as(Class<T> type) {
        if (type.isInstance(this)) {
            return type.cast(this);
        }
        throw new UnsupportedOperationException("this vCPU (" + getClass().getSimpleName() + ") has no " + type.getSimpleName());
    }

    /** Releases the vCPU. Called by the VM's owner after the vCPU's thread has stopped. */
    @Override
    void close();
}
