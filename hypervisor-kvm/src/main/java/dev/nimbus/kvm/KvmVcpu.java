package dev.nimbus.kvm;

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
        inRun = true;
        VarHandle.fullFence();  // pairs with kick(): either it sees inRun, or KVM sees immediate_exit
        try {
            while (true) {
                if (kickRequested.get()) {
                    fd.requestImmediateExit(true);
                }
                int r = fd.run();
                if (r == 0) {
                    VcpuExit exit = exits.decode();
                    if (exit instanceof VcpuExit.InternalError e && !internalErrorNote.isEmpty()) {
                        return new VcpuExit.InternalError(e.detail() + "\n" + internalErrorNote);
                    }
                    return exit;
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
