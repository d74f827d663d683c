package dev.nimbus.arch.x86_64.emulator;

import java.util.ArrayList;
import java.util.List;

/** A device register that answers every read with {@code value} (cut to the access size) and records every access. */
final class RecordingMmio implements MmioAccess {
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
        long v = size == 8 ? value : value & ((1L << (size * 8)) - 1);
        accesses.add(Access.read(gpa, size, v));
        return v;
    }

    @Override
    public void write(long gpa, int size, long value) {
        accesses.add(Access.write(gpa, size, value));
    }
}
