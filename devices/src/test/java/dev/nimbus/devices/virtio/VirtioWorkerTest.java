package dev.nimbus.devices.virtio;

import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.host.EventFd;
import org.junit.jupiter.api.Test;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The worker's epoll loop serves a queue when its eventfd is signalled, as KVM does for an ioeventfd. */
class VirtioWorkerTest {
    @Test
    void signalledQueueEventServesTheQueueOnTheWorkerThread() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
             FileChannel urandom = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ);
             EventFd queueEvent = EventFd.createNonBlocking()) {
            RecordingMsiRouting routing = new RecordingMsiRouting();
            VirtioPciDevice device = new VirtioPciDevice(new VirtioRng(urandom), memory, routing, -1);
            PciTransportDriver driver = new PciTransportDriver(device);
            GuestQueue queue = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);
            driver.bringUp(queue, 0);
            queue.descriptor(0, 0x10_0000, 64, VirtQueue.DESC_F_WRITE, 0);
            queue.offer(0);

            try (VirtioWorker worker = new VirtioWorker(device, List.of(queueEvent))) {
                worker.start();
                queueEvent.signal();
                // Wait for the outcome, not for a time: the test fails by the build's timeout if it never comes.
                while (queue.usedIdx() != 1) {
                    Thread.onSpinWait();
                }
            }
            assertThat(queue.usedLen(0)).isEqualTo(64);
            assertThat(routing.signals()).containsExactly(0);
        }
    }

    @Test
    void aPausedWorkerLeavesNotificationsUntilItIsResumed() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
             FileChannel urandom = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ);
             EventFd queueEvent = EventFd.createNonBlocking()) {
            RecordingMsiRouting routing = new RecordingMsiRouting();
            VirtioPciDevice device = new VirtioPciDevice(new VirtioRng(urandom), memory, routing, -1);
            PciTransportDriver driver = new PciTransportDriver(device);
            GuestQueue queue = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);
            driver.bringUp(queue, 0);
            queue.descriptor(0, 0x10_0000, 64, VirtQueue.DESC_F_WRITE, 0);
            queue.offer(0);

            try (VirtioWorker worker = new VirtioWorker(device, List.of(queueEvent))) {
                worker.start();
                worker.pause(); // returns once the loop is parked
                queueEvent.signal();
                // a running worker serves this in well under a millisecond; a parked one must not at all
                Thread.sleep(300);
                assertThat(queue.usedIdx()).as("used index while paused").isZero();
                assertThat(routing.signals()).isEmpty();

                worker.resume();
                while (queue.usedIdx() != 1) {
                    Thread.onSpinWait();
                }
            }
            assertThat(routing.signals()).containsExactly(0);
        }
    }

    @Test
    void closingAPausedWorkerEndsItsThread() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
             FileChannel urandom = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ);
             EventFd queueEvent = EventFd.createNonBlocking()) {
            VirtioPciDevice device = new VirtioPciDevice(new VirtioRng(urandom), memory, new RecordingMsiRouting(), -1);
            VirtioWorker worker = new VirtioWorker(device, List.of(queueEvent));
            worker.start();
            worker.pause();
            worker.close(); // must not hang on the parked loop: the build's timeout would catch it
            worker.resume(); // harmless after close
        }
    }

    /** An rng whose first request throws, as a device bug or a host failure would. */
    static final class FailsOnce implements VirtioDevice {
        final VirtioRng rng;
        boolean failed;

        FailsOnce(VirtioRng rng) {
            this.rng = rng;
        }

        @Override public int deviceType() { return rng.deviceType(); }
        @Override public long deviceFeatures() { return rng.deviceFeatures(); }
        @Override public int queueCount() { return 1; }
        @Override public int queueMaxSize(int index) { return 16; }

        @Override
        public void process(int index, VirtQueue queue) throws VirtQueueException {
            if (!failed) {
                failed = true;
                throw new IllegalStateException("simulated host failure");
            }
            rng.process(index, queue);
        }
    }

    /** Waits up to 10 s for {@code done}; fails with {@code what} otherwise. */
    interface Check {
        boolean done() throws Exception;
    }

    static void await(String what, Check done) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!done.done()) {
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            Thread.sleep(1);
        }
    }

    @Test
    void anUnexpectedExceptionPutsTheDeviceIntoNeedsResetAndTheWorkerGoesOn() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
             FileChannel urandom = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ);
             EventFd queueEvent = EventFd.createNonBlocking()) {
            RecordingMsiRouting routing = new RecordingMsiRouting();
            VirtioPciDevice device = new VirtioPciDevice(new FailsOnce(new VirtioRng(urandom)), memory, routing, -1);
            PciTransportDriver driver = new PciTransportDriver(device);
            GuestQueue queue = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);
            driver.bringUp(queue, 0);
            queue.descriptor(0, 0x10_0000, 64, VirtQueue.DESC_F_WRITE, 0);
            queue.offer(0);

            try (VirtioWorker worker = new VirtioWorker(device, List.of(queueEvent))) {
                worker.start();
                queueEvent.signal();
                await("DEVICE_NEEDS_RESET after the failure", () -> (device.status() & VirtioFeatures.STATUS_DEVICE_NEEDS_RESET) != 0);
                await("the configuration-change interrupt on the config vector (1)", () -> routing.signals().contains(1));
                assertThat(device.counters()).containsEntry("device_failures", 1L);

                // the driver resets the device and brings it up again: the same worker serves it
                driver.status(0);
                GuestQueue again = new GuestQueue(memory, 16, 0x4_0000, 0x5_0000, 0x6_0000);
                driver.bringUp(again, 0);
                again.descriptor(0, 0x10_0000, 32, VirtQueue.DESC_F_WRITE, 0);
                again.offer(0);
                queueEvent.signal();
                await("the request after the reset served", () -> again.usedIdx() == 1);
                assertThat(again.usedLen(0)).isEqualTo(32);
            }
        }
    }

    /** An rng whose requests block until released, as a device stuck in a long request would. */
    static final class Stuck implements VirtioDevice {
        final java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);

        @Override public int deviceType() { return VirtioRng.DEVICE_TYPE; }
        @Override public long deviceFeatures() { return 0; }
        @Override public int queueCount() { return 1; }
        @Override public int queueMaxSize(int index) { return 16; }
        @Override public String name() { return "stuck-rng"; }

        @Override
        public void process(int index, VirtQueue queue) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void pauseAndCloseOfABusyWorkerEndWithinTheirDeadlines() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
             EventFd queueEvent = EventFd.createNonBlocking()) {
            Stuck stuck = new Stuck();
            VirtioPciDevice device = new VirtioPciDevice(stuck, memory, new RecordingMsiRouting(), -1);
            PciTransportDriver driver = new PciTransportDriver(device);
            GuestQueue queue = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);
            driver.bringUp(queue, 0);
            VirtioWorker worker = new VirtioWorker(device, List.of(queueEvent));
            try {
                worker.start();
                queueEvent.signal();
                assertThat(stuck.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

                long start = System.nanoTime();
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> worker.pause(200))
                        .isInstanceOf(IllegalStateException.class).hasMessage("virtio-pci stuck-rng is still busy after 200 ms and could not be paused");
                worker.close(200);
                assertThat(System.nanoTime() - start).as("pause and close returned, the device still stuck").isLessThan(10_000_000_000L);
            } finally {
                stuck.release.countDown();
            }
        }
    }
}
