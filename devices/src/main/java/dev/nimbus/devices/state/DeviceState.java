package dev.nimbus.devices.state;

import java.util.Arrays;
import java.util.Objects;

/**
 * One device's saved state: its {@link Snapshottable#stateId() id}, the version of the layout of
 * {@code data}, and {@code data}, opaque to everyone but the device. A device that changes its layout
 * raises the version and still reads the versions it wrote before.
 */
public record DeviceState(String id, int version, byte[] data) {
    public DeviceState {
        Objects.requireNonNull(id, "id");
        if (version < 1) {
            throw new IllegalArgumentException(id + ": a state version starts at 1, got " + version);
        }
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /**
     * Checks that this is a state of {@code expectedId} in {@code supportedVersion}.
     *
     * @throws DeviceStateException naming what does not match
     */
    public void require(String expectedId, int supportedVersion) {
        if (!id.equals(expectedId)) {
            throw new DeviceStateException(expectedId + ": cannot restore a state of " + id);
        }
        if (version != supportedVersion) {
            throw new DeviceStateException(expectedId + ": state version " + version + " is not supported (this build reads "
                    + supportedVersion + ")");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeviceState s && id.equals(s.id) && version == s.version && Arrays.equals(data, s.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, version, Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return "DeviceState[" + id + " v" + version + ", " + data.length + " bytes]";
    }
}
