package dev.nimbus.devices.virtio;

import dev.nimbus.host.Landlock;
import dev.nimbus.host.Seccomp;
import dev.nimbus.host.Epoll;
import dev.nimbus.host.EventFd;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The thread that serves one virtio device in a running machine: an epoll loop over the queues' eventfds
 * (registered by the VMM as ioeventfds on the notification addresses, so a guest notification wakes this
 * thread without a VM exit to user space) that calls {@link VirtioPciDevice#processQueue} for each queue
 * that fired, the same call a test makes directly. {@link #close()} stops and joins the thread;
 * {@link #pause()} and {@link #resume()} stop and restart the serving while the VM is paused.
 *
 * <p>The loop also waits on the device's host descriptors ({@link VirtioDevice#hostFds()}, a tap) and
 * calls {@link VirtioPciDevice#serveHostFd} when one is readable. After each dispatch it asks the device
 * which host descriptors it wants ({@link VirtioPciDevice#hostFdWanted}) and stops or resumes watching
 * them, so a readable tap with no receive buffers to fill does not make the loop spin; the receive
 * queue's notification, which comes through this loop, is what makes the device want it again.
 *
 * <p>A device that serves requests off this thread ({@link VirtioDevice#ioThreads()}, virtio-blk's file
 * I/O) gets a fixed set of I/O threads here, started with this one (from the thread that starts the worker,
 * so they join the worker's seccomp filter and file sandbox, not a vCPU's): {@link #pause()} then also waits
 * until the device has given back everything it took ({@link VirtioDevice#quiesce}), and {@link #close()}
 * stops its I/O ({@link VirtioDevice#stopIo}) before the threads end.
 *
 * <p>An exception from the device's code does not end the loop: the device goes into DEVICE_NEEDS_RESET
 * with a configuration interrupt ({@link VirtioPciDevice#failed}), so the driver sees it and resets it,
 * and the loop serves the device again after that. A device that just went quiet would be worse.
 */
public final class VirtioWorker implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioWorker.class.getName());
    private static final long STOP = -1;
    private static final long WAKE = -2;
    /** Tokens of host descriptors: this plus their index, above any queue index. */
    private static final long HOST_FD = 1L << 32;
    private static final int SET_ASIDE_RECHECK_MILLIS = 50;
    /** How long {@link #pause()} and {@link #close()} wait for the loop to finish what it is serving. */
    public static final long STOP_DEADLINE_MILLIS = 5_000;

    private final VirtioPciDevice device;
    private final List<EventFd> queueEvents;
    private final EventFd stop = EventFd.createNonBlocking();
    /** Wakes the loop so that it sees a pause request. */
    private final EventFd wake = EventFd.createNonBlocking();
    // pause state, guarded by pauseLock
    private final Object pauseLock = new Object();
    private boolean pauseRequested;
    private boolean parked;
    private boolean stopping;
    private final Epoll epoll;
    private final Thread thread;
    private final int[] hostFds;
    private final boolean[] watching;
    /** The device's I/O threads, or null when it serves everything on this one. */
    private final ThreadPoolExecutor io;

    /** {@code queueEvents.get(i)} is queue i's eventfd (non-blocking); the caller owns and closes them. */
    public VirtioWorker(VirtioPciDevice device, List<EventFd> queueEvents) {
        if (queueEvents.size() != device.queueCount()) {
            throw new IllegalArgumentException(device.name() + " has " + device.queueCount() + " queues, not " + queueEvents.size());
        }
        this.device = device;
        this.queueEvents = List.copyOf(queueEvents);
        this.hostFds = device.device().hostFds().clone();
        this.watching = new boolean[hostFds.length];
        this.epoll = Epoll.create(queueEvents.size() + hostFds.length + 1);
        epoll.add(stop.fd(), STOP);
        epoll.add(wake.fd(), WAKE);
        for (int i = 0; i < queueEvents.size(); i++) {
            epoll.add(queueEvents.get(i).fd(), i);
        }
        updateHostWatches();
        this.thread = Thread.ofPlatform().name(device.name() + " worker").daemon().unstarted(this::run);
        int ioThreads = device.device().ioThreads();
        if (ioThreads > 0) {
            Thread.Builder builder = Thread.ofPlatform().name(device.name() + " io ", 0).daemon();
            this.io = new ThreadPoolExecutor(ioThreads, ioThreads, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    task -> builder.unstarted(() -> {
                        Seccomp.join(Seccomp.ThreadKind.WORKER);
                        task.run();
                    })) {
                @Override
                protected void beforeExecute(Thread t, Runnable r) {
                    Landlock.joinEnforced(); // once enforced, the next request runs in the sandbox
                }
            };
            device.device().useExecutor(io);
            device.device().serveKeptBackOn(thread);
        } else {
            this.io = null;
        }
    }

    /**
     * Signals every queue's eventfd, as if the driver had notified each: after a restore, notifications the
     * saved machine had not served yet were in eventfds that are gone (a request the guest offered just
     * before the pause, host input for the console), and a driver waits for them rather than notifying
     * again. Serving a queue with nothing new is harmless. Call before {@link #start()}, or while paused.
     */
    public void notifyQueues() {
        queueEvents.forEach(EventFd::signal);
    }

    public void start() {
        thread.start();
        if (io != null) {
            io.prestartAllCoreThreads();
        }
    }

    private void run() {
        try {
            Seccomp.join(Seccomp.ThreadKind.WORKER);
            while (true) {
                if (!parkWhilePaused()) {
                    return;
                }
                // While a host descriptor is set aside, look again now and then: a notification written
                // through MMIO (no ioeventfd) is served on a vCPU thread and does not wake this loop.
                int n = epoll.await(anySetAside() ? SET_ASIDE_RECHECK_MILLIS : -1);
                Landlock.joinEnforced(); // the VMM's file sandbox, once enforced: a volatile read otherwise
                for (int i = 0; i < n; i++) {
                    long token = epoll.token(i);
                    if (token == STOP) {
                        return;
                    }
                    if (token == WAKE) {
                        wake.read();
                        continue;
                    }
                    try {
                        if (token >= HOST_FD) {
                            device.serveHostFd((int) (token - HOST_FD));
                        } else {
                            queueEvents.get((int) token).read();
                            device.processQueue((int) token);
                            device.serveKeptBack(); // a lone request, served here rather than handed off
                        }
                    } catch (RuntimeException e) {
                        device.failed(e); // the device needs a reset; this loop serves it again after one
                    }
                }
                updateHostWatches();
            }
        } catch (RuntimeException e) {
            // the loop itself broke (epoll): nothing serves the device any more, so the driver must hear of it
            LOG.log(Level.ERROR, device.name() + " worker stopped", e);
            device.failed(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops serving the device (for a paused VM): returns once the loop is parked between dispatches, so no
     * queue is processed and no interrupt is sent until {@link #resume()}. Notifications that arrive in the
     * meantime stay in their eventfds and are served after the resume. Returns at once when the thread is
     * not running.
     */
    public void pause() throws InterruptedException {
        pause(STOP_DEADLINE_MILLIS);
    }

    /**
     * {@link #pause()} with a deadline: a device still busy after {@code timeoutMillis} (a request that
     * takes that long is the device's fault, or a guest's that found a way to make it work unbounded) is
     * left running, and this throws, naming the device, instead of waiting for ever.
     *
     * @throws IllegalStateException when the loop did not park in time; the worker is not paused then
     */
    public void pause(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        parkLoop(timeoutMillis, deadline);
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (!device.device().quiesce(Math.max(1, left))) {
            resume();
            throw new IllegalStateException(device.name() + " still has requests in flight after " + timeoutMillis
                    + " ms and could not be paused");
        }
    }

    private void parkLoop(long timeoutMillis, long deadline) throws InterruptedException {
        synchronized (pauseLock) {
            pauseRequested = true;
            wake.signal();
            while (!parked && !stopping && thread.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    pauseRequested = false;
                    pauseLock.notifyAll();
                    throw new IllegalStateException(device.name() + " is still busy after " + timeoutMillis
                            + " ms and could not be paused");
                }
                pauseLock.wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
    }

    /** Serves the device again after {@link #pause()}. */
    public void resume() {
        synchronized (pauseLock) {
            pauseRequested = false;
            pauseLock.notifyAll();
        }
    }

    /** Parks the loop while a pause is requested; false when the worker is stopping instead. */
    private boolean parkWhilePaused() throws InterruptedException {
        synchronized (pauseLock) {
            if (pauseRequested && !stopping) {
                parked = true;
                pauseLock.notifyAll();
                try {
                    while (pauseRequested && !stopping) {
                        pauseLock.wait();
                    }
                } finally {
                    parked = false;
                }
            }
            return !stopping;
        }
    }

    private boolean anySetAside() {
        for (boolean w : watching) {
            if (!w) {
                return true;
            }
        }
        return false;
    }

    private void updateHostWatches() {
        for (int i = 0; i < hostFds.length; i++) {
            boolean wanted = device.hostFdWanted(i);
            if (wanted != watching[i]) {
                if (wanted) {
                    epoll.add(hostFds[i], HOST_FD + i);
                } else {
                    epoll.remove(hostFds[i]);
                }
                watching[i] = wanted;
            }
        }
    }

    /** Stops the loop, waits for the thread (at most {@value #STOP_DEADLINE_MILLIS} ms), and releases the epoll instance. */
    @Override
    public void close() {
        close(STOP_DEADLINE_MILLIS);
    }

    /**
     * {@link #close()} with a deadline: a thread still busy in the device after {@code timeoutMillis} is
     * left to finish on its own (it is a daemon and ends at its next turn of the loop), with an error in the
     * log naming the device, and its descriptors are left open for it; the caller goes on, never hangs.
     */
    public void close(long timeoutMillis) {
        synchronized (pauseLock) {
            stopping = true;
            pauseLock.notifyAll();
        }
        stop.signal();
        if (thread.isAlive()) {
            try {
                thread.join(Math.max(1, timeoutMillis));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (io != null) {
            device.device().stopIo(Math.max(1, timeoutMillis));
            io.shutdownNow();
        }
        if (thread.isAlive()) {
            LOG.log(Level.ERROR, "{0}: its worker is still busy after {1} ms; left to end on its own", device.name(), timeoutMillis);
            return;
        }
        epoll.close();
        stop.close();
        wake.close();
    }
}
