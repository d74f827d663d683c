package dev.nimbus.devices.state;

import java.io.ByteArrayOutputStream;

/**
 * Writes a device's state in its own compact layout: little-endian fixed-width fields, in the order the
 * device's {@code saveState} documents, read back by a {@link StateReader}.
 */
public final class StateWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public StateWriter u8(int value) {
        out.write(value);
        return this;
    }

    public StateWriter bool(boolean value) {
        return u8(value ? 1 : 0);
    }

    public StateWriter u16(int value) {
        return u8(value).u8(value >>> 8);
    }

    public StateWriter u32(int value) {
        return u16(value).u16(value >>> 16);
    }

    public StateWriter u64(long value) {
        return u32((int) value).u32((int) (value >>> 32));
    }

    public StateWriter bytes(byte[] b) {
        out.write(b, 0, b.length);
        return this;
    }

    /** A nested state (another device's record): its id, version and length-prefixed bytes. */
    public StateWriter state(DeviceState nested) {
        byte[] id = nested.id().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] data = nested.data();
        return u16(id.length).bytes(id).u32(nested.version()).u32(data.length).bytes(data);
    }

    /** The state written so far, as {@code id} in layout {@code version}. */
    public DeviceState done(String id, int version) {
        return new DeviceState(id, version, out.toByteArray());
    }
}
