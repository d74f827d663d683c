package dev.nimbus.mshv.intercept;

import java.util.Arrays;
import java.util.HexFormat;

/** The instruction bytes an intercept carries (at most 16, as many as the hypervisor fetched). Immutable. */
public final class InstructionBytes {
    public static final int MAX = 16;
    private final byte[] bytes;

    public InstructionBytes(byte[] bytes) {
        if (bytes.length > MAX) {
            throw new IllegalArgumentException(bytes.length + " instruction bytes; an intercept carries at most " + MAX);
        }
        this.bytes = bytes.clone();
    }

    public int length() {
        return bytes.length;
    }

    public byte get(int i) {
        return bytes[i];
    }

    /** A copy of the bytes (for the instruction emulator). */
    public byte[] toArray() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InstructionBytes other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    /** {@code 8b 07}. */
    @Override
    public String toString() {
        return HexFormat.ofDelimiter(" ").formatHex(bytes);
    }
}
