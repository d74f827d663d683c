package dev.nimbus.devices.virtio;

import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.devices.virtio.net.NetNamespace;
import dev.nimbus.devices.virtio.net.PacketSocket;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.net.Tap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * virtio-net behind the PCI transport and its worker thread, on a real tap in a private network
 * namespace: the worker waits on the tap as well as on the queues' eventfds, raises the receive queue's
 * vector for a frame from the tap, and stops waiting on the tap (without spinning) while the guest has
 * given no receive buffers.
 */
class VirtioNetWorkerTest {
    static final int ETHERTYPE = 0x88b5;
    static final byte[] GUEST_MAC = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};

    NetNamespace ns;
    GuestMemory memory;
    EventFd rxEvent;
    EventFd txEvent;
    Tap tap;
    PacketSocket wire;
    RecordingMsiRouting routing;
    VirtioPciDevice device;
    PciTransportDriver driver;
    GuestQueue rx;
    GuestQueue tx;
    VirtioWorker worker;

    @BeforeEach
    void setUp() {
        ns = NetNamespace.create();
        memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
        rxEvent = EventFd.createNonBlocking();
        txEvent = EventFd.createNonBlocking();
        tap = ns.call(() -> Tap.open("nimbus%d"));
        int index = ns.call(() -> {
            tap.up();
            return tap.index();
        });
        wire = ns.call(() -> {
            try {
                return PacketSocket.open(index, ETHERTYPE);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        });
        routing = new RecordingMsiRouting();
        device = new VirtioPciDevice(new VirtioNet(tap, GUEST_MAC, 2, 256), memory, routing, -1);
        driver = new PciTransportDriver(device);
        rx = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);
        tx = new GuestQueue(memory, 16, 0x4_0000, 0x5_0000, 0x6_0000);
        driver.enableMsix();
        int status = driver.negotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioNet.F_MAC)
                | VirtioFeatures.bit(VirtioNet.F_MRG_RXBUF));
        assertThat(status & VirtioFeatures.STATUS_FEATURES_OK).isNotZero();
        driver.common(0x10, 2, 2); // config vector 2
        driver.queue(VirtioNet.RX_QUEUE, rx, 0);
        driver.queue(VirtioNet.TX_QUEUE, tx, 1);
        driver.driverOk();
        worker = new VirtioWorker(device, List.of(rxEvent, txEvent));
        worker.start();
    }

    @AfterEach
    void tearDown() {
        if (worker != null) {
            worker.close();
        }
        if (wire != null) {
            wire.close();
        }
        if (tap != null) {
            tap.close();
        }
        if (rxEvent != null) {
            rxEvent.close();
            txEvent.close();
        }
        if (memory != null) {
            memory.close();
        }
        if (ns != null) {
            ns.close();
        }
    }

    @Test
    void workerDeliversTapFramesTransmitsAndSetsTheTapAsideWithoutSpinning() throws Throwable {
        // no receive buffers yet: a frame waits in the tap and the worker must not spin on it
        byte[] first = frame(1, 100);
        wire.send(first);
        Thread.sleep(200);
        assertIdleFor(500);

        rx.descriptor(0, 0x10_0000, 2048, VirtQueue.DESC_F_WRITE, 0);
        rx.offer(0);
        rx.descriptor(1, 0x11_0000, 2048, VirtQueue.DESC_F_WRITE, 0);
        rx.offer(1);
        rxEvent.signal(); // the driver's notification, as KVM signals the ioeventfd
        await(() -> rx.usedIdx() == 1);
        assertThat(read(0x10_0000 + 12, 100)).isEqualTo(first);
        // the worker publishes the used index before it signals: wait for the signal, do not race it
        await(() -> routing.signals().contains(0));

        // with buffers in hand the worker is back on the tap: the next frame needs no notification
        byte[] second = frame(2, 70);
        wire.send(second);
        await(() -> rx.usedIdx() == 2);
        assertThat(read(0x11_0000 + 12, 70)).isEqualTo(second);

        byte[] out = frame(3, 90);
        memory.write(0x20_0000, new byte[12]);
        memory.write(0x20_0000 + 12, out);
        tx.descriptor(0, 0x20_0000, 12 + out.length, 0, 0);
        tx.offer(0);
        txEvent.signal();
        assertThat(wire.receive(5000)).isEqualTo(out);
        await(() -> tx.usedIdx() == 1);
        await(() -> routing.signals().contains(1));
        assertThat(device.device().counters()).containsEntry("rx_frames", 2L).containsEntry("tx_frames", 1L)
                .containsEntry("rx_bytes", 170L).containsEntry("tx_bytes", 90L);
    }

    @Test
    void notificationServedOnAVcpuThreadStillBringsTheTapBack() throws Throwable {
        byte[] first = frame(4, 80);
        wire.send(first);
        Thread.sleep(200); // the worker found no buffers and set the tap aside

        rx.descriptor(0, 0x10_0000, 2048, VirtQueue.DESC_F_WRITE, 0);
        rx.offer(0);
        rx.descriptor(1, 0x11_0000, 2048, VirtQueue.DESC_F_WRITE, 0);
        rx.offer(1);
        // the notification write reached the transport without an ioeventfd: served on this thread
        driver.bar.write(VirtioPciDevice.notifyOffset(VirtioNet.RX_QUEUE), 2, VirtioNet.RX_QUEUE);
        assertThat(rx.usedIdx()).isEqualTo(1);
        assertThat(read(0x10_0000 + 12, 80)).isEqualTo(first);

        // nothing woke the worker, yet it watches the tap again within its recheck
        byte[] second = frame(5, 60);
        wire.send(second);
        await(() -> rx.usedIdx() == 2);
        assertThat(read(0x11_0000 + 12, 60)).isEqualTo(second);
    }

    @Test
    void brokenReceiveChainNeedsAResetAndLaterFramesAreDroppedWithoutSpinning() throws Throwable {
        rx.descriptor(0, 0xff_0000_0000L, 2048, VirtQueue.DESC_F_WRITE, 0);
        rx.offer(0);
        rxEvent.signal();
        await(() -> (driver.status() & VirtioFeatures.STATUS_DEVICE_NEEDS_RESET) != 0);

        wire.send(frame(6, 64));
        wire.send(frame(7, 64));
        await(() -> device.device().counters().get("rx_dropped") == 2L);
        assertIdleFor(300);
        assertThat(rx.usedIdx()).isZero();
    }

    void assertIdleFor(long millis) throws InterruptedException {
        long cpu = workerCpuNanos();
        Thread.sleep(millis);
        assertThat(workerCpuNanos() - cpu).as("worker CPU time over %d ms", millis).isLessThan(millis * 1_000_000 / 5);
    }

    static byte[] frame(int seed, int length) {
        byte[] f = new byte[length];
        System.arraycopy(GUEST_MAC, 0, f, 0, 6);
        f[6] = 0x02;
        f[12] = (byte) (ETHERTYPE >> 8);
        f[13] = (byte) ETHERTYPE;
        for (int i = 14; i < length; i++) {
            f[i] = (byte) (i + seed * 31);
        }
        return f;
    }

    byte[] read(long gpa, int length) throws Exception {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = memory.readByte(gpa + i);
        }
        return b;
    }

    interface Check {
        boolean done() throws Exception;
    }

    static void await(Check check) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!check.done()) {
            assertThat(System.nanoTime()).as("outcome within 5 s").isLessThan(deadline);
            Thread.sleep(1);
        }
    }

    long workerCpuNanos() {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (ThreadInfo info : threads.dumpAllThreads(false, false)) {
            if (info.getThreadName().equals(device.name() + " worker")) {
                return threads.getThreadCpuTime(info.getThreadId());
            }
        }
        throw new AssertionError("no worker thread");
    }
}
