package dev.nimbus.devices.state;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Reads a state a {@link StateWriter} wrote, refusing what the device could not have saved: each read
 * names its field, so a truncated or out-of-range state gives a {@link DeviceStateException} that says
 * which field of which state ({@code "cmos-rtc: index 0x80 is out of range"}). A device reads and checks
 * the whole state into locals first and changes itself only after {@link #end()}.
 */
public final class StateReader {
    private final String id;
    private final ByteBuffer b;

    /** Reads {@code state}, which must be of {@code id} in {@code version} ({@link DeviceState#require}). */
    public StateReader(DeviceState state, String id, int version) {
        state.require(id, version);
        this.id = id;
        this.b = ByteBuffer.wrap(state.data()).order(ByteOrder.LITTLE_ENDIAN);
    }

    public int u8(String field) {
        return Byte.toUnsignedInt(get(field, 1).get());
    }

    public int u16(String field) {
        return Short.toUnsignedInt(get(field, 2).getShort());
    }

    public int u32(String field) {
        return get(field, 4).getInt();
    }

    public long u64(String field) {
        return get(field, 8).getLong();
    }

    /** A flag saved as 0 or 1. */
    public boolean bool(String field) {
        int v = u8(field);
        check(v <= 1, field, "is " + v + ", not 0 or 1");
        return v == 1;
    }

    /** An unsigned value of {@code width} bytes (1, 2 or 4) that must lie in {@code [min, max]}. */
    public int in(String field, int width, int min, int max) {
        long v = switch (width) {
            case 1 -> u8(field);
            case 2 -> u16(field);
            default -> Integer.toUnsignedLong(u32(field));
        };
        check(v >= min && v <= max, field, "is " + v + ", out of range [" + min + ", " + max + "]");
        return (int) v;
    }

    public byte[] bytes(String field, int length) {
        byte[] out = new byte[length];
        get(field, length).get(out);
        return out;
    }

    /** A nested state {@link StateWriter#state} wrote. */
    public DeviceState state(String field) {
        int idLength = u16(field + " id length");
        String nestedId = new String(bytes(field + " id", idLength), StandardCharsets.UTF_8);
        int version = u32(field + " version");
        check(version >= 1, field, "has version " + version);
        int length = u32(field + " length");
        check(length >= 0 && length <= b.remaining(), field, "claims " + Integer.toUnsignedString(length) + " bytes, "
                + b.remaining() + " are left");
        return new DeviceState(nestedId, version, bytes(field, length));
    }

    /** Bytes not read yet. */
    public int remaining() {
        return b.remaining();
    }

    /** The state must end here. */
    public void end() {
        if (b.hasRemaining()) {
            throw new DeviceStateException(id + ": " + b.remaining() + " bytes of state after its last field");
        }
    }

    /** Refuses the state unless {@code ok}: "{@code id}: {@code field} {@code problem}". */
    public void check(boolean ok, String field, String problem) {
        if (!ok) {
            throw new DeviceStateException(id + ": " + field + " " + problem);
        }
    }

    private ByteBuffer get(String field, int n) {
        if (b.remaining() < n) {
            throw new DeviceStateException(id + ": the state ends inside " + field + " (" + b.capacity() + " bytes)");
        }
        return b;
    }
}
