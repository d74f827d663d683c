package dev.nimbus.devices.virtio;

/** Reserved feature bits (virtio 1.2, 6) and device status bits (2.1) the transport knows. */
public final class VirtioFeatures {
    private VirtioFeatures() {}

    public static final int RING_INDIRECT_DESC = 28;
    public static final int RING_EVENT_IDX = 29;
    public static final int VERSION_1 = 32;

    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_DEVICE_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;

    /** "No MSI-X vector" in config_msix_vector and queue_msix_vector. */
    public static final int NO_VECTOR = 0xffff;

    public static long bit(int feature) {
        return 1L << feature;
    }
}
