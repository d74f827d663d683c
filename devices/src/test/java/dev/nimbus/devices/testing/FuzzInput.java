package dev.nimbus.devices.testing;

import java.io.ByteArrayOutputStream;

/**
 * Writes a fuzz target's input as Jazzer's {@code FuzzedDataProvider} will read it back, for seeds that
 * mean something: byte arrays are taken from the front of the input, in order; integers, booleans and longs
 * from its end, backwards, each as the fewest bytes that cover its range, most significant first (the
 * layout of LLVM's FuzzedDataProvider, which Jazzer's follows).
 */
public final class FuzzInput {
    private final ByteArrayOutputStream front = new ByteArrayOutputStream();
    /** The bytes taken from the end, in the order they are taken. */
    private final ByteArrayOutputStream back = new ByteArrayOutputStream();

    /** What {@code consumeBytes(bytes.length)} returns. */
    public FuzzInput bytes(byte[] bytes) {
        front.writeBytes(bytes);
        return this;
    }

    /** What {@code consumeInt(min, max)} returns. */
    public FuzzInput intIn(int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(value + " is not in [" + min + ", " + max + "]");
        }
        long range = (long) max - min;
        int n = 0;
        while (n < 4 && (range >>> (8 * n)) > 0) {
            n++;
        }
        long v = (long) value - min;
        for (int i = n - 1; i >= 0; i--) {
            back.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    /** What {@code consumeBoolean()} returns. */
    public FuzzInput bool(boolean value) {
        back.write(value ? 1 : 0);
        return this;
    }

    /** What {@code consumeLong()} returns. */
    public FuzzInput longValue(long value) {
        long v = value - Long.MIN_VALUE;
        for (int i = 7; i >= 0; i--) {
            back.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    public byte[] build() {
        byte[] f = front.toByteArray();
        byte[] b = back.toByteArray();
        byte[] out = new byte[f.length + b.length];
        System.arraycopy(f, 0, out, 0, f.length);
        for (int i = 0; i < b.length; i++) {
            out[out.length - 1 - i] = b[i];
        }
        return out;
    }
}
