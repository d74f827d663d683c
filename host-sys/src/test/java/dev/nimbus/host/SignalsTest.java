package dev.nimbus.host;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The signal calls behind vCPU kicks, on plain threads (no hypervisor needed). */
class SignalsTest {
    private static <T> T onNewThread(java.util.concurrent.Callable<T> body) throws Exception {
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                result.set(body.call());
            } catch (Throwable e) {
                result.set(e);
            }
        });
        t.start();
        t.join();
        if (result.get() instanceof Throwable e) {
            throw new AssertionError(e);
        }
        @SuppressWarnings("unchecked")
        T r = (T) result.get();
        return r;
    }

    @Test
    void kickSignalIsARealTimeSignalGlibcLeavesToApplications() {
        int sig = Signals.vcpuKickSignal();

        assertThat(sig).isBetween(34 + 2, 64 - 3);  // SIGRTMIN+2, and below the JDK's SIGRTMAX-2
    }

    @Test
    void aBlockedSignalSentToTheThreadStaysPendingUntilConsumed() throws Exception {
        int sig = Signals.vcpuKickSignal();
        Signals.installNoOpHandler(sig);

        boolean[] seen = onNewThread(() -> {
            Signals.blockInCurrentThread(sig);
            int sent = Signals.signalThread(Signals.currentThreadId(), sig);
            return new boolean[] {sent == 0, Signals.consumePending(sig), Signals.consumePending(sig)};
        });

        assertThat(seen).containsExactly(true, true, false);
    }

    @Test
    void theMaskForTheGuestLeavesOnlyTheKickSignalOpen() throws Exception {
        int sig = Signals.vcpuKickSignal();

        long mask = onNewThread(() -> {
            Signals.blockInCurrentThread(sig);
            return Signals.currentMaskWithout(sig);
        });

        assertThat(mask & (1L << (sig - 1))).as("kick signal bit").isZero();
    }

    @Test
    void installingTheHandlerTwiceIsHarmless() {
        int sig = Signals.vcpuKickSignal();

        Signals.installNoOpHandler(sig);
        Signals.installNoOpHandler(sig);

        assertThat(Signals.signalThread(Signals.currentThreadId(), 0)).as("signal 0 probes the thread").isZero();
    }
}
