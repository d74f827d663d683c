package dev.nimbus.hypervisor.state;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One piece of saved hypervisor state, for snapshot and restore: an id that names the format
 * ({@code "kvm-x86-regs"}), the version of that format, and the bytes, opaque to everyone but the backend
 * that wrote them. A backend that changes a format raises its version; one that reads a record refuses a
 * version it does not know with a {@link StateException} that names both.
 */
public record StateRecord(String id, int version, byte[] data) {
    public StateRecord {
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

    /** The record of {@code id} in {@code records}, checked to be in {@code version}. */
    public static StateRecord find(List<StateRecord> records, String id, int version) {
        for (StateRecord r : records) {
            if (r.id.equals(id)) {
                if (r.version != version) {
                    throw new StateException(id + ": state version " + r.version + " is not supported (this build reads "
                            + version + ")");
                }
                return r;
            }
        }
        throw new StateException(id + ": missing from the saved state");
    }

    /** Checks that {@code data} is {@code expected} bytes long. */
    public StateRecord requireLength(int expected) {
        if (data.length != expected) {
            throw new StateException(id + ": " + data.length + " bytes, expected " + expected);
        }
        return this;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StateRecord s && id.equals(s.id) && version == s.version && Arrays.equals(data, s.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, version, Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return "StateRecord[" + id + " v" + version + ", " + data.length + " bytes]";
    }
}
