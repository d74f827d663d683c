package dev.nimbus.devices.virtio;

import dev.nimbus.host.Epoll;
import dev.nimbus.host.EventFd;

import java.lang.System.Logger.Level;
import java.util.List;

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
    }

    public void start() {
        thread.start();
    }

    private void run() {
        try {
            while (true) {
                if (!parkWhilePaused()) {
                    return;
                }
                // While a host descriptor is set aside, look again now and then: a notification written
                // through MMIO (no ioeventfd) is served on a vCPU thread and does not wake this loop.
                int n = epoll.await(anySetAside() ? SET_ASIDE_RECHECK_MILLIS : -1);
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
        synchronized (pauseLock) {
            pauseRequested = true;
            wake.signal();
            while (!parked && !stopping && thread.isAlive()) {
                pauseLock.wait(50);
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

    /** Stops the loop, waits for the thread, and releases the epoll instance. */
    @Override
    public void close() {
        synchronized (pauseLock) {
            stopping = true;
            pauseLock.notifyAll();
        }
        stop.signal();
        if (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        epoll.close();
        stop.close();
        wake.close();
    }
}
