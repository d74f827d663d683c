package dev.nimbus.arch.x86_64.emulator;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongUnaryOperator;

/**
 * A device register that answers every read with {@code value} (cut to the access size), or with what
 * {@link #contents} says is at the address, and records every access. {@link #translation} stands for the
 * backend's guest address translation the string instructions ask for: none (every address -1) unless set.
 */
final class RecordingMmio implements MmioAccess {
    /** How the test's guest translates: segment and offset to a guest physical address, or -1. */
    interface Translation {
        long gpa(int segment, long offset);
    }

    Translation translation = (segment, offset) -> -1;
    LongUnaryOperator contents;
    record Access(boolean isWrite, long gpa, int size, long value) {
        static Access read(long gpa, int size, long value) {
            return new Access(false, gpa, size, value);
        }

        static Access write(long gpa, int size, long value) {
            return new Access(true, gpa, size, value);
        }
    }

    final List<Access> accesses = new ArrayList<>();
    long value;

    RecordingMmio(long value) {
        this.value = value;
    }

    @Override
    public long read(long gpa, int size) {
        long all = contents == null ? value : contents.applyAsLong(gpa);
        long v = size == 8 ? all : all & ((1L << (size * 8)) - 1);
        accesses.add(Access.read(gpa, size, v));
        return v;
    }

    @Override
    public void write(long gpa, int size, long value) {
        accesses.add(Access.write(gpa, size, value));
    }

    @Override
    public long translate(int segment, long offset, int size, boolean write) {
        return translation.gpa(segment, offset);
    }
}
