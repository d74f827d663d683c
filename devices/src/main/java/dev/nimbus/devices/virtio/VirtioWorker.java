package dev.nimbus.devices.virtio;

import dev.nimbus.hypervisor.sys.Epoll;
import dev.nimbus.hypervisor.sys.EventFd;

import java.lang.System.Logger.Level;
import java.util.List;

/**
 * The thread that serves one virtio device in a running machine: an epoll loop over the queues' eventfds
 * (registered by the VMM as ioeventfds on the notification addresses, so a guest notification wakes this
 * thread without a VM exit to user space) that calls {@link VirtioPciDevice#processQueue} for each queue
 * that fired, the same call a test makes directly. {@link #close()} stops and joins the thread.
 */
public final class VirtioWorker implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioWorker.class.getName());
    private static final long STOP = -1;

    private final VirtioPciDevice device;
    private final List<EventFd> queueEvents;
    private final EventFd stop = EventFd.createNonBlocking();
    private final Epoll epoll;
    private final Thread thread;

    /** {@code queueEvents.get(i)} is queue i's eventfd (non-blocking); the caller owns and closes them. */
    public VirtioWorker(VirtioPciDevice device, List<EventFd> queueEvents) {
        if (queueEvents.size() != device.queueCount()) {
            throw new IllegalArgumentException(device.name() + " has " + device.queueCount() + " queues, not " + queueEvents.size());
        }
        this.device = device;
        this.queueEvents = List.copyOf(queueEvents);
        this.epoll = Epoll.create(queueEvents.size() + 1);
        epoll.add(stop.fd(), STOP);
        for (int i = 0; i < queueEvents.size(); i++) {
            epoll.add(queueEvents.get(i).fd(), i);
        }
        this.thread = Thread.ofPlatform().name(device.name() + " worker").daemon().unstarted(this::run);
    }

    public void start() {
        thread.start();
    }

    private void run() {
        try {
            while (true) {
                int n = epoll.await(-1);
                for (int i = 0; i < n; i++) {
                    long token = epoll.token(i);
                    if (token == STOP) {
                        return;
                    }
                    queueEvents.get((int) token).read();
                    device.processQueue((int) token);
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, device.name() + " worker stopped", e);
        }
    }

    /** Stops the loop, waits for the thread, and releases the epoll instance. */
    @Override
    public void close() {
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
    }
}
