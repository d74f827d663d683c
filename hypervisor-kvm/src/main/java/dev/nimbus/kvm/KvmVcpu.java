package dev.nimbus.kvm;

import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.host.Signals;
import dev.nimbus.kvm.exit.KvmExitDecoder;
import dev.nimbus.kvm.fd.KvmVcpuFd;

import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A KVM vCPU as the SPI sees it: the run loop and {@link #kick()}, over a {@link KvmVcpuFd}.
 *
 * <p>How a kick stops {@code KVM_RUN} promptly without losing the exit being handled:
 * <ol>
 *   <li>The vCPU thread blocks the kick signal ({@link Signals#vcpuKickSignal()}) for itself on its first
 *       {@link #run()} and hands KVM, through {@code KVM_SET_SIGNAL_MASK}, the same mask without it: the
 *       signal can interrupt the guest and nothing else this thread does.</li>
 *   <li>{@link #kick()} records the request, sets {@code kvm_run.immediate_exit} (so a {@code KVM_RUN} about
 *       to start returns at once) and, when the thread is inside {@link #run()}, sends it the signal with
 *       {@code tgkill} (so a guest that is running leaves).</li>
 *   <li>{@code KVM_RUN} then fails with EINTR. The kernel has completed the I/O the previous exit asked for
 *       before checking either, so a response given to that exit reaches the guest. {@link #run()} clears
 *       {@code immediate_exit}, takes the signal off the thread ({@code sigtimedwait} with no wait) and
 *       returns {@link VcpuExit#INTERRUPTED}. An EINTR with no request behind it (a signal from a kick that
 *       was already answered) re-enters the guest.</li>
 * </ol>
 *
 * <p>Before its state is saved, {@link #completePendingExit()} finishes the exit being handled the same way: a
 * {@code KVM_RUN} with {@code immediate_exit} set, which completes the I/O and returns EINTR without running the
 * guest. A kick's request survives it: only {@link #run()} answers one.
 */
public abstract sealed class KvmVcpu implements Vcpu permits KvmX86Vcpu, KvmOneRegVcpu {
    private static final int KICK_SIGNAL = Signals.vcpuKickSignal();

    final KvmVcpuFd fd;
    private final KvmExitDecoder exits;
    private final AtomicBoolean kickRequested = new AtomicBoolean();
    private final Object lifecycle = new Object();
    private volatile boolean inRun;
    private volatile int threadId;
    private volatile boolean closed;
    private Thread owner;
    private String internalErrorNote = "";
    /** Set when {@link #completePendingExit()} met a new exit: the next {@link #run()} returns it first. */
    private boolean exitPending;

    KvmVcpu(KvmVcpuFd fd) {
        this.fd = fd;
        this.exits = new KvmExitDecoder(fd.runPage());
        // the kick's handler is the process's: installed here, by the thread that makes vCPUs, so that the
        // vCPU thread (seccomp-filtered from its first run) never has to change a signal's action
        Signals.installNoOpHandler(KICK_SIGNAL);
    }

    @Override
    public int id() {
        return fd.id();
    }

    /** The vCPU's file descriptor, for the backend's own use. */
    public KvmVcpuFd fd() {
        return fd;
    }

    @Override
    public VcpuExit run() {
        Thread current = Thread.currentThread();
        if (current != owner) {
            bindTo(current);
        }
        if (exitPending) {
            exitPending = false;
            return decode();
        }
        inRun = true;
        VarHandle.fullFence();  // pairs with kick(): either it sees inRun, or KVM sees immediate_exit
        try {
            while (true) {
                if (kickRequested.get()) {
                    fd.requestImmediateExit(true);
                }
                int r = fd.run();
                if (r == 0) {
                    return decode();
                }
                // EINTR (kick, stray signal) or EAGAIN
                fd.requestImmediateExit(false);
                Signals.consumePending(KICK_SIGNAL);
                if (kickRequested.getAndSet(false)) {
                    return VcpuExit.INTERRUPTED;
                }
            }
        } finally {
            inRun = false;
        }
    }

    private VcpuExit decode() {
        VcpuExit exit = exits.decode();
        if (exit instanceof VcpuExit.InternalError e && !internalErrorNote.isEmpty()) {
            return new VcpuExit.InternalError(e.detail() + "\n" + internalErrorNote);
        }
        return exit;
    }

    /**
     * Completes the exit the last {@link #run()} returned, so that the vCPU's state is the one its next run starts
     * from: KVM applies an I/O or MMIO read's data to the registers, and moves past an {@code OUT}, only when
     * {@code KVM_RUN} is entered again (api.rst: userspace completes pending operations before a migration by
     * entering with {@code immediate_exit} set). The guest runs no instruction. On the vCPU's thread, between
     * runs; nothing to do for a vCPU that never ran.
     *
     * <p>Where completing one exit needs another (an MMIO access KVM splits into fragments), KVM returns that
     * exit instead; it is kept for the next {@link #run()}, and this throws: the VMM runs the vCPU on and tries
     * again.
     *
     * @throws IllegalStateException on another thread than the one that runs the vCPU
     * @throws HypervisorException when KVM asked for another exit first
     */
    final void completePendingExit() {
        if (exitPending) {
            throw pendingExitError();
        }
        if (owner == null) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("vCPU " + id() + ": its state is read on the thread that runs it ("
                    + owner.getName() + "), not on " + Thread.currentThread().getName());
        }
        fd.requestImmediateExit(true);
        int r;
        try {
            r = fd.run();
        } finally {
            // a kick that came meanwhile keeps its request: run() sets immediate_exit again for it
            fd.requestImmediateExit(false);
            Signals.consumePending(KICK_SIGNAL);
        }
        if (r == 0) {
            exitPending = true;
            throw pendingExitError();
        }
    }

    private HypervisorException pendingExitError() {
        return new HypervisorException("vCPU " + id() + ": KVM needs another exit handled (" + exits.decode()
                + ") before the vCPU's state can be saved; run it on and save again");
    }

    private void bindTo(Thread thread) {
        if (thread.isVirtual()) {
            throw new IllegalStateException("vCPU " + id() + " must run on a platform thread, not a virtual thread");
        }
        Signals.installNoOpHandler(KICK_SIGNAL);
        Signals.blockInCurrentThread(KICK_SIGNAL);
        fd.setSignalMask(Signals.currentMaskWithout(KICK_SIGNAL));
        threadId = Signals.currentThreadId();
        owner = thread;
    }

    /** See {@link KvmVm#noteOnInternalError}. */
    void noteOnInternalError(String note) {
        internalErrorNote = note;
    }

    @Override
    public void kick() {
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            kickRequested.set(true);
            fd.requestImmediateExit(true);
            VarHandle.fullFence();
            if (inRun) {
                Signals.signalThread(threadId, KICK_SIGNAL);
            }
        }
    }

    static MpState mpState(int kvm) {
        MpState[] all = MpState.values();
        if (kvm < 0 || kvm >= all.length) {
            throw new IllegalStateException("KVM reported an unknown MP state " + kvm);
        }
        return all[kvm];  // KVM_MP_STATE_RUNNABLE (0) .. KVM_MP_STATE_STOPPED (5), in the same order
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            if (!closed) {
                closed = true;
                fd.close();
            }
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + id() + "]";
    }
}
