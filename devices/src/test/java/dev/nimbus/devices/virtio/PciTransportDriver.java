package dev.nimbus.devices.virtio;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.pci.MsixCapability;
import dev.nimbus.devices.pci.PciConfigSpace;

/**
 * Drives a {@link VirtioPciDevice} through its BAR 0 and configuration space the way Linux's virtio_pci
 * modern driver does (virtio 1.2, 3.1.1 and 4.1.4.3), with one queue at the fixture's ring addresses.
 */
final class PciTransportDriver {
    final VirtioPciDevice device;
    final BusDevice bar;

    PciTransportDriver(VirtioPciDevice device) {
        this.device = device;
        this.bar = device.bars().getFirst().region();
    }

    long common(int offset, int size) {
        return bar.read(VirtioPciDevice.COMMON_OFFSET + offset, size);
    }

    void common(int offset, int size, long value) {
        bar.write(VirtioPciDevice.COMMON_OFFSET + offset, size, value);
    }

    int status() {
        return (int) common(0x14, 1);
    }

    void status(int value) {
        common(0x14, 1, value);
    }

    long offeredFeatures() {
        common(0x00, 4, 0);
        long low = common(0x04, 4);
        common(0x00, 4, 1);
        return low | common(0x04, 4) << 32;
    }

    void driverFeatures(long features) {
        common(0x08, 4, 0);
        common(0x0c, 4, features & 0xffff_ffffL);
        common(0x08, 4, 1);
        common(0x0c, 4, features >>> 32);
    }

    /** Status ACKNOWLEDGE | DRIVER, the features, FEATURES_OK; returns the status read back. */
    int negotiate(long features) {
        status(VirtioFeatures.STATUS_ACKNOWLEDGE);
        status(VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER);
        driverFeatures(features);
        status(VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER | VirtioFeatures.STATUS_FEATURES_OK);
        return status();
    }

    /** Sets up queue {@code index} with 64-bit addresses written as two 32-bit halves, as Linux does. */
    void queue(int index, GuestQueue q, int msixVector) {
        common(0x16, 2, index);
        common(0x18, 2, q.size);
        common(0x1a, 2, msixVector);
        common(0x20, 4, q.desc & 0xffff_ffffL);
        common(0x24, 4, q.desc >>> 32);
        common(0x28, 4, q.avail & 0xffff_ffffL);
        common(0x2c, 4, q.avail >>> 32);
        common(0x30, 4, q.used & 0xffff_ffffL);
        common(0x34, 4, q.used >>> 32);
        common(0x1c, 2, 1);
    }

    void driverOk() {
        status(status() | VirtioFeatures.STATUS_DRIVER_OK);
    }

    /** Enables MSI-X and unmasks every vector, programming vector v with data 0x40 + v. */
    void enableMsix() {
        MsixCapability msix = device.msix();
        PciConfigSpace config = device.config();
        for (int v = 0; v < msix.vectorCount(); v++) {
            long entry = VirtioPciDevice.MSIX_TABLE_OFFSET + 16L * v;
            bar.write(entry, 4, 0xfee0_0000L);
            bar.write(entry + 4, 4, 0);
            bar.write(entry + 8, 4, 0x40 + v);
            bar.write(entry + 12, 4, 0);
        }
        int control = msix.offset() + 2;
        config.write(control, 2, MsixCapability.CONTROL_ENABLE);
        device.configWritten(control, 2);
    }

    /** The whole bring-up of 3.1.1 with VERSION_1 plus {@code extra} and queue 0 on vector 0. */
    void bringUp(GuestQueue q, long extra) {
        enableMsix();
        negotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | extra);
        common(0x10, 2, 1); // config vector 1
        queue(0, q, 0);
        driverOk();
    }
}
