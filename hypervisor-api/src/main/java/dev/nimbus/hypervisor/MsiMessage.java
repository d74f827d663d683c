package dev.nimbus.hypervisor;

/**
 * A message-signalled interrupt as a device writes it: {@code data} to {@code address}. {@code deviceId}
 * identifies the requester where the interrupt controller needs it (the GICv3 ITS takes the PCI
 * requester id); -1 when not needed.
 */
public record MsiMessage(long address, int data, int deviceId) {
    public static MsiMessage of(long address, int data) {
        return new MsiMessage(address, data, -1);
    }

    public boolean hasDeviceId() {
        return deviceId >= 0;
    }
}
