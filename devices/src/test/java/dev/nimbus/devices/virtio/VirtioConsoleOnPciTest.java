package dev.nimbus.devices.virtio;

import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.host.EventFd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static dev.nimbus.devices.virtio.console.VirtioConsole.RECEIVEQ;
import static dev.nimbus.devices.virtio.console.VirtioConsole.TRANSMITQ;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * virtio-console behind the PCI transport, driven as Linux's virtio_console does without MULTIPORT:
 * receiveq on MSI-X vector 0, transmitq on vector 1, configuration changes on vector 2. Host input arrives
 * on another thread and must reach the guest with an interrupt, without the guest notifying.
 */
class VirtioConsoleOnPciTest {
    static final int RX_VECTOR = 0;
    static final int TX_VECTOR = 1;
    static final long RX_DATA = 0x10_0000;
    static final long TX_DATA = 0x20_0000;

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
    final RecordingMsiRouting routing = new RecordingMsiRouting();
    final ByteArrayOutputStream output = new ByteArrayOutputStream();
    final VirtioConsole console = new VirtioConsole(output, 132, 50, 4096);
    final VirtioPciDevice device = new VirtioPciDevice(console, memory, routing, -1);
    final PciTransportDriver driver = new PciTransportDriver(device);
    final GuestQueue rx = new GuestQueue(memory, 16, 0x1_0000, 0x1_1000, 0x1_2000);
    final GuestQueue tx = new GuestQueue(memory, 16, 0x4_0000, 0x4_1000, 0x4_2000);

    @AfterEach
    void close() {
        memory.close();
    }

    void bringUp() {
        driver.enableMsix();
        driver.negotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1L << VirtioConsole.F_SIZE);
        driver.common(0x10, 2, 2);
        driver.queue(RECEIVEQ, rx, RX_VECTOR);
        driver.queue(TRANSMITQ, tx, TX_VECTOR);
        driver.driverOk();
    }

    void notify(int queue) {
        driver.bar.write(VirtioPciDevice.notifyOffset(queue), 2, queue);
    }

    void hostTypes(String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        console.receive(b, 0, b.length);
    }

    String guestReads(long gpa, int length) throws Exception {
        byte[] b = new byte[length];
        memory.read(gpa, b);
        return new String(b, StandardCharsets.US_ASCII);
    }

    @Test
    void functionIsAVirtioConsoleWithItsSizeInDeviceConfiguration() {
        assertThat(device.config().get16(dev.nimbus.devices.pci.PciConfigSpace.DEVICE_ID)).isEqualTo(0x1043);
        assertThat(driver.offeredFeatures() & 0xffffff).isEqualTo(1L << VirtioConsole.F_SIZE | 1L << VirtioConsole.F_EMERG_WRITE);
        assertThat(driver.common(0x12, 2)).isEqualTo(2); // num_queues
        assertThat(driver.bar.read(VirtioPciDevice.DEVICE_CONFIG_OFFSET, 2)).isEqualTo(132);
        assertThat(driver.bar.read(VirtioPciDevice.DEVICE_CONFIG_OFFSET + 2, 2)).isEqualTo(50);
    }

    @Test
    void hostInputFillsAPostedBufferAndRaisesTheReceiveVector() throws Exception {
        console.onInput(() -> device.processQueue(RECEIVEQ));
        bringUp();
        rx.descriptor(0, RX_DATA, 64, DESC_F_WRITE, 0);
        rx.offer(0);
        notify(RECEIVEQ);
        assertThat(routing.signals()).isEmpty(); // nothing to say yet

        hostTypes("root\r");

        assertThat(rx.usedIdx()).isEqualTo(1);
        assertThat(rx.usedLen(0)).isEqualTo(5);
        assertThat(guestReads(RX_DATA, 5)).isEqualTo("root\r");
        assertThat(routing.signals()).containsExactly(RX_VECTOR);
    }

    @Test
    void inputBeforeDriverOkIsDeliveredWhenTheDriverPostsBuffers() throws Exception {
        console.onInput(() -> device.processQueue(RECEIVEQ));
        hostTypes("early");
        bringUp();
        assertThat(routing.signals()).isEmpty();

        rx.descriptor(0, RX_DATA, 64, DESC_F_WRITE, 0);
        rx.offer(0);
        notify(RECEIVEQ);

        assertThat(guestReads(RX_DATA, rx.usedLen(0))).isEqualTo("early");
        assertThat(routing.signals()).containsExactly(RX_VECTOR);
    }

    @Test
    void guestOutputGoesToTheStreamAndRaisesTheTransmitVector() throws Exception {
        bringUp();
        memory.write(TX_DATA, "[    0.000000] Linux\n".getBytes(StandardCharsets.US_ASCII));
        tx.descriptor(0, TX_DATA, 21, 0, 0);
        tx.offer(0);

        notify(TRANSMITQ);

        assertThat(output.toString(StandardCharsets.US_ASCII)).isEqualTo("[    0.000000] Linux\n");
        assertThat(tx.usedIdx()).isEqualTo(1);
        assertThat(routing.signals()).containsExactly(TX_VECTOR);
    }

    @Test
    void brokenTransmitChainNeedsResetAndLeavesInputWaiting() throws Exception {
        console.onInput(() -> device.processQueue(RECEIVEQ));
        bringUp();
        tx.descriptor(0, TX_DATA, 1, VirtQueue.DESC_F_NEXT, 0); // a chain that loops on itself
        tx.offer(0);
        notify(TRANSMITQ);
        assertThat(device.status() & VirtioFeatures.STATUS_DEVICE_NEEDS_RESET).isNotZero();

        rx.descriptor(0, RX_DATA, 64, DESC_F_WRITE, 0);
        rx.offer(0);
        hostTypes("x");

        assertThat(rx.usedIdx()).isZero();
        assertThat(routing.signals()).containsExactly(2); // the configuration vector, for NEEDS_RESET
    }

    /** The VMM's path: host input signals the receive queue's ioeventfd and the worker thread serves it. */
    @Test
    void hostInputThroughTheQueueEventIsServedOnTheWorkerThread() throws Exception {
        try (EventFd rxEvent = EventFd.createNonBlocking(); EventFd txEvent = EventFd.createNonBlocking()) {
            console.onInput(rxEvent::signal);
            bringUp();
            rx.descriptor(0, RX_DATA, 64, DESC_F_WRITE, 0);
            rx.offer(0);
            try (VirtioWorker worker = new VirtioWorker(device, List.of(rxEvent, txEvent))) {
                worker.start();
                hostTypes("hi");
                // Wait for the outcome, not for a time: the test fails by the build's timeout if it never comes.
                while (rx.usedIdx() != 1) {
                    Thread.onSpinWait();
                }
            }
            assertThat(guestReads(RX_DATA, rx.usedLen(0))).isEqualTo("hi");
            assertThat(routing.signals()).containsExactly(RX_VECTOR);
        }
    }
}
