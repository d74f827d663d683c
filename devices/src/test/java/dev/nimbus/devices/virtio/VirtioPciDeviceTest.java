package dev.nimbus.devices.virtio;

import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_NEXT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static dev.nimbus.devices.virtio.VirtioFeatures.STATUS_DEVICE_NEEDS_RESET;
import static dev.nimbus.devices.virtio.VirtioFeatures.STATUS_DRIVER_OK;
import static dev.nimbus.devices.virtio.VirtioFeatures.STATUS_FEATURES_OK;
import static dev.nimbus.devices.virtio.VirtioFeatures.bit;
import static org.assertj.core.api.Assertions.assertThat;

/** The virtio PCI modern transport (virtio 1.2, 4.1) around a virtio-rng, on a 4 MiB guest-memory fixture. */
class VirtioPciDeviceTest {
    static final long RAM = 4L << 20;
    static final long DATA = 0x10_0000;

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)));
    final RecordingMsiRouting routing = new RecordingMsiRouting();
    final VirtioPciDevice device = rng(routing);
    final PciTransportDriver driver = new PciTransportDriver(device);
    final GuestQueue queue = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);

    VirtioPciDevice rng(RecordingMsiRouting routing) {
        byte[] entropy = new byte[1 << 16];
        for (int i = 0; i < entropy.length; i++) {
            entropy[i] = (byte) (i * 7 + 1);
        }
        return new VirtioPciDevice(new VirtioRng(Channels.newChannel(new ByteArrayInputStream(entropy))), memory, routing, -1);
    }

    @AfterEach
    void close() {
        memory.close();
    }

    /** Reads configuration space capabilities of vendor type 0x09 as {cfg_type, bar, offset, length}. */
    List<int[]> virtioCapabilities() {
        PciConfigSpace config = device.config();
        List<int[]> caps = new ArrayList<>();
        for (int at = config.get8(PciConfigSpace.CAPABILITIES_POINTER); at != 0; at = config.get8(at + 1)) {
            if (config.get8(at) == 0x09) {
                caps.add(new int[] {config.get8(at + 3), config.get8(at + 4), config.get32(at + 8), config.get32(at + 12)});
            }
        }
        return caps;
    }

    @Test
    void functionIsANonTransitionalVirtioDevice() {
        PciConfigSpace config = device.config();
        assertThat(config.get16(PciConfigSpace.VENDOR_ID)).isEqualTo(0x1af4);
        assertThat(config.get16(PciConfigSpace.DEVICE_ID)).isEqualTo(0x1040 + 4);
        assertThat(config.get8(PciConfigSpace.REVISION)).isEqualTo(1);
        assertThat(config.get16(PciConfigSpace.SUBSYSTEM_ID)).isGreaterThanOrEqualTo(0x40);
    }

    @Test
    void capabilitiesPointAtCommonNotifyAndIsrStructuresInBarZero() {
        assertThat(virtioCapabilities()).extracting(c -> c[0] + "@" + c[1] + ":" + Integer.toHexString(c[2]))
                .containsExactly("1@0:0", "2@0:3000", "3@0:1000", "5@0:0");
    }

    int pciCfgCapability() {
        PciConfigSpace config = device.config();
        for (int at = config.get8(PciConfigSpace.CAPABILITIES_POINTER); at != 0; at = config.get8(at + 1)) {
            if (config.get8(at) == 0x09 && config.get8(at + 3) == VirtioPciDevice.CAP_PCI_CFG) {
                return at;
            }
        }
        throw new AssertionError("no VIRTIO_PCI_CAP_PCI_CFG");
    }

    /** 4.1.4.9: the driver sets bar, offset and length, then reads pci_cfg_data to read the BAR there. */
    @Test
    void pciCfgCapabilityReadsTheBarThroughConfigurationSpace() {
        int cap = pciCfgCapability();
        device.config().write(cap + 4, 1, 0);
        device.config().write(cap + 8, 4, 0x12); // num_queues
        device.config().write(cap + 12, 4, 2);
        assertThat(device.readConfig(cap + 16, 2)).isEqualTo(1);
    }

    @Test
    void pciCfgCapabilityWritesTheBarThroughConfigurationSpace() {
        int cap = pciCfgCapability();
        device.config().write(cap + 8, 4, 0x16); // queue_select
        device.config().write(cap + 12, 4, 2);
        device.config().write(cap + 16, 2, 7);
        device.configWritten(cap + 16, 2);
        assertThat(driver.common(0x16, 2)).isEqualTo(7);
    }

    @Test
    void notifyCapabilityGivesTheOffsetMultiplier() {
        PciConfigSpace config = device.config();
        int at = config.get8(PciConfigSpace.CAPABILITIES_POINTER);
        at = config.get8(at + 1); // second: notify
        assertThat(config.get8(at + 2)).isEqualTo(20);
        assertThat(config.get32(at + 16)).isEqualTo(VirtioPciDevice.NOTIFY_MULTIPLIER);
        driver.common(0x16, 2, 0);
        assertThat(VirtioPciDevice.NOTIFY_OFFSET + driver.common(0x1e, 2) * VirtioPciDevice.NOTIFY_MULTIPLIER)
                .isEqualTo(VirtioPciDevice.notifyOffset(0));
    }

    @Test
    void deviceOffersVersion1IndirectAndEventIdx() {
        assertThat(driver.offeredFeatures()).isEqualTo(bit(32) | bit(28) | bit(29));
    }

    @Test
    void featureNegotiationWithVersion1SetsFeaturesOk() {
        assertThat(driver.negotiate(bit(VirtioFeatures.VERSION_1)) & STATUS_FEATURES_OK).isNotZero();
    }

    @Test
    void featureNegotiationWithoutVersion1FailsFeaturesOk() {
        assertThat(driver.negotiate(bit(VirtioFeatures.RING_EVENT_IDX)) & STATUS_FEATURES_OK).isZero();
    }

    @Test
    void featureNotOfferedFailsFeaturesOk() {
        assertThat(driver.negotiate(bit(VirtioFeatures.VERSION_1) | bit(5)) & STATUS_FEATURES_OK).isZero();
    }

    @Test
    void driverFeaturesAreFrozenOnceFeaturesOk() {
        driver.negotiate(bit(VirtioFeatures.VERSION_1));
        driver.driverFeatures(bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.RING_EVENT_IDX));
        assertThat(device.driverFeatures()).isEqualTo(bit(VirtioFeatures.VERSION_1));
    }

    @Test
    void driverOkWithoutFeaturesOkIsNotAccepted() {
        driver.status(VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER);
        driver.driverOk();
        assertThat(driver.status() & STATUS_DRIVER_OK).isZero();
    }

    @Test
    void writingZeroStatusResetsTheDevice() {
        driver.bringUp(queue, 0);
        driver.status(0);
        assertThat(driver.status()).isZero();
        assertThat(device.driverFeatures()).isZero();
        driver.common(0x16, 2, 0);
        assertThat(driver.common(0x1c, 2)).isZero(); // queue_enable
        assertThat(driver.common(0x20, 8)).isZero();
        assertThat(driver.common(0x10, 2)).isEqualTo(VirtioFeatures.NO_VECTOR);
    }

    @Test
    void queueAddressesReadBackAsWritten() {
        driver.queue(0, new GuestQueue(memory, 16, 0x1_2345_6780L, 0x2_0000, 0x3_0000), 0);
        assertThat(driver.common(0x20, 8)).isEqualTo(0x1_2345_6780L);
        assertThat(driver.common(0x20, 4)).isEqualTo(0x2345_6780L);
        assertThat(driver.common(0x18, 2)).isEqualTo(16);
    }

    @Test
    void queueBeyondTheDevicesReadsSizeZero() {
        driver.common(0x16, 2, 5);
        assertThat(driver.common(0x18, 2)).isZero();
        assertThat(driver.common(0x12, 2)).isEqualTo(1); // num_queues
    }

    @Test
    void msixVectorPastTheTableReadsBackNoVector() {
        driver.common(0x16, 2, 0);
        driver.common(0x1a, 2, 9);
        assertThat(driver.common(0x1a, 2)).isEqualTo(VirtioFeatures.NO_VECTOR);
    }

    @Test
    void processedQueueSignalsItsVector() throws Exception {
        driver.bringUp(queue, 0);
        queue.descriptor(0, DATA, 32, DESC_F_WRITE, 0);
        queue.offer(0);
        device.processQueue(0);
        assertThat(queue.usedIdx()).isEqualTo(1);
        assertThat(routing.signals()).containsExactly(0);
        assertThat(driver.bar.read(VirtioPciDevice.ISR_OFFSET, 1)).isEqualTo(1); // queue interrupt
        assertThat(driver.bar.read(VirtioPciDevice.ISR_OFFSET, 1)).isZero(); // read clears
    }

    @Test
    void notificationWriteServesTheQueueWhenNoIoeventfdCatchesIt() throws Exception {
        driver.bringUp(queue, 0);
        queue.descriptor(0, DATA, 32, DESC_F_WRITE, 0);
        queue.offer(0);
        driver.bar.write(VirtioPciDevice.notifyOffset(0), 2, 0);
        assertThat(queue.usedIdx()).isEqualTo(1);
    }

    @Test
    void queueIsNotServedBeforeDriverOk() throws Exception {
        driver.negotiate(bit(VirtioFeatures.VERSION_1));
        driver.queue(0, queue, 0);
        queue.descriptor(0, DATA, 32, DESC_F_WRITE, 0);
        queue.offer(0);
        device.processQueue(0);
        assertThat(queue.usedIdx()).isZero();
    }

    @Test
    void loopingDescriptorChainSetsNeedsReset() throws Exception {
        driver.bringUp(queue, 0);
        queue.descriptor(0, DATA, 32, DESC_F_WRITE | DESC_F_NEXT, 1);
        queue.descriptor(1, DATA, 32, DESC_F_WRITE | DESC_F_NEXT, 0);
        queue.offer(0);
        device.processQueue(0);
        assertThat(driver.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();
        assertThat(routing.signals()).containsExactly(1); // configuration change vector
        assertThat(driver.bar.read(VirtioPciDevice.ISR_OFFSET, 1) & 2).isEqualTo(2);
    }

    @Test
    void needsResetStopsProcessingUntilTheDriverResets() throws Exception {
        driver.bringUp(queue, 0);
        queue.descriptor(0, RAM + 0x1000, 32, DESC_F_WRITE, 0);
        queue.offer(0);
        device.processQueue(0);
        queue.descriptor(1, DATA, 32, DESC_F_WRITE, 0);
        queue.offer(1);
        device.processQueue(0);
        assertThat(queue.usedIdx()).isZero();

        driver.status(0);
        GuestQueue fresh = new GuestQueue(memory, 16, 0x4_0000, 0x5_0000, 0x6_0000);
        driver.bringUp(fresh, 0);
        fresh.descriptor(0, DATA, 32, DESC_F_WRITE, 0);
        fresh.offer(0);
        device.processQueue(0);
        assertThat(fresh.usedIdx()).isEqualTo(1);
        assertThat(driver.status() & STATUS_DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    void brokenDeviceLeavesOtherDevicesRunning() throws Exception {
        RecordingMsiRouting otherRouting = new RecordingMsiRouting();
        VirtioPciDevice other = rng(otherRouting);
        PciTransportDriver otherDriver = new PciTransportDriver(other);
        GuestQueue otherQueue = new GuestQueue(memory, 16, 0x4_0000, 0x5_0000, 0x6_0000);
        driver.bringUp(queue, 0);
        otherDriver.bringUp(otherQueue, 0);

        queue.offer(40); // head past the queue
        device.processQueue(0);
        otherQueue.descriptor(0, DATA, 32, DESC_F_WRITE, 0);
        otherQueue.offer(0);
        other.processQueue(0);

        assertThat(driver.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();
        assertThat(otherQueue.usedIdx()).isEqualTo(1);
        assertThat(otherRouting.signals()).containsExactly(0);
    }

    @Test
    void ringOutsideGuestRamAtDriverOkSetsNeedsReset() {
        driver.enableMsix();
        driver.negotiate(bit(VirtioFeatures.VERSION_1));
        driver.queue(0, new GuestQueue(memory, 16, RAM, 0x2_0000, 0x3_0000), 0);
        driver.driverOk();
        assertThat(driver.status() & STATUS_DEVICE_NEEDS_RESET).isNotZero();
    }

    @Test
    void usedEventSuppressesInterruptUntilReached() throws Exception {
        driver.bringUp(queue, bit(VirtioFeatures.RING_EVENT_IDX));
        queue.setUsedEvent(1);
        queue.descriptor(0, DATA, 8, DESC_F_WRITE, 0);
        queue.offer(0);
        device.processQueue(0);
        assertThat(routing.signals()).isEmpty();
        queue.descriptor(1, DATA, 8, DESC_F_WRITE, 0);
        queue.offer(1);
        device.processQueue(0);
        assertThat(routing.signals()).containsExactly(0);
    }

    @Test
    void drainedQueueAsksForTheNextNotificationByAvailEvent() throws Exception {
        driver.bringUp(queue, bit(VirtioFeatures.RING_EVENT_IDX));
        queue.descriptor(0, DATA, 8, DESC_F_WRITE, 0);
        queue.offer(0);
        device.processQueue(0);
        assertThat(queue.availEvent()).isEqualTo(1);
    }

    @Test
    void maskedQueueVectorIsHeldPendingInThePba() throws Exception {
        driver.bringUp(queue, 0);
        driver.bar.write(VirtioPciDevice.MSIX_TABLE_OFFSET + 12, 4, 1); // mask vector 0
        queue.descriptor(0, DATA, 8, DESC_F_WRITE, 0);
        queue.offer(0);
        device.processQueue(0);
        assertThat(routing.signals()).isEmpty();
        assertThat(driver.bar.read(VirtioPciDevice.MSIX_PBA_OFFSET, 8)).isEqualTo(1);
        driver.bar.write(VirtioPciDevice.MSIX_TABLE_OFFSET + 12, 4, 0);
        assertThat(routing.signals()).containsExactly(0);
    }
}
