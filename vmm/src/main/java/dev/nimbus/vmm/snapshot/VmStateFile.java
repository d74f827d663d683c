package dev.nimbus.vmm.snapshot;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.hypervisor.state.StateRecord;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The machine's saved state, {@code state.bin} in a snapshot: every vCPU's records, the interrupt
 * controller's, then every device's, in the device manager's order. Little-endian:
 * <pre>
 *   magic "NIMBUSVS", u32 layout version (1)
 *   u32 vCPU count, then per vCPU: u32 record count, records
 *   u32 record count, the interrupt controller's records
 *   u32 device count, device states
 *   a record or device state: u16 id length, id (UTF-8), u32 version, u32 data length, data
 * </pre>
 * Reading checks every length against what is left, so a truncated or corrupt file is an error naming what
 * was being read, never an exception of another kind.
 */
public record VmStateFile(List<List<StateRecord>> vcpus, List<StateRecord> irqChip, List<DeviceState> devices) {
    static final byte[] MAGIC = "NIMBUSVS".getBytes(StandardCharsets.US_ASCII);
    /** The layout of this file (the records inside carry their own versions). */
    public static final int LAYOUT_VERSION = 1;
    private static final int MAX_ID = 256;
    private static final int MAX_COUNT = 1 << 16;

    public VmStateFile {
        vcpus = vcpus.stream().map(List::copyOf).toList();
        irqChip = List.copyOf(irqChip);
        devices = List.copyOf(devices);
    }

    /** The file's bytes. */
    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(MAGIC);
            out.writeInt(Integer.reverseBytes(LAYOUT_VERSION));
            u32(out, vcpus.size());
            for (List<StateRecord> v : vcpus) {
                u32(out, v.size());
                for (StateRecord r : v) {
                    entry(out, r.id(), r.version(), r.data());
                }
            }
            u32(out, irqChip.size());
            for (StateRecord r : irqChip) {
                entry(out, r.id(), r.version(), r.data());
            }
            u32(out, devices.size());
            for (DeviceState d : devices) {
                entry(out, d.id(), d.version(), d.data());
            }
        } catch (IOException e) {
            throw new IllegalStateException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    private static void u32(DataOutputStream out, int v) throws IOException {
        out.writeInt(Integer.reverseBytes(v));
    }

    private static void entry(DataOutputStream out, String id, int version, byte[] data) throws IOException {
        byte[] name = id.getBytes(StandardCharsets.UTF_8);
        out.writeShort(Short.reverseBytes((short) name.length));
        out.write(name);
        u32(out, version);
        u32(out, data.length);
        out.write(data);
    }

    /**
     * Reads {@code bytes}, named {@code file} in errors.
     *
     * @throws SnapshotException naming the file and what is wrong (bad magic, version, truncated, trailing bytes)
     */
    public static VmStateFile decode(byte[] bytes, String file) throws SnapshotException {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        String at = "the header";
        try {
            byte[] magic = new byte[MAGIC.length];
            in.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new SnapshotException(file + ": not a Nimbus machine state (no NIMBUSVS header)");
            }
            int layout = in.getInt();
            if (layout != LAYOUT_VERSION) {
                throw new SnapshotException(file + ": layout version " + layout + " is not supported (this build reads "
                        + LAYOUT_VERSION + ")");
            }
            List<List<StateRecord>> vcpus = new ArrayList<>();
            int n = count(in, file, "the vCPU count");
            for (int i = 0; i < n; i++) {
                at = "vCPU " + i;
                vcpus.add(records(in, file, at));
            }
            at = "the interrupt controller";
            List<StateRecord> chip = records(in, file, at);
            at = "the device count";
            int d = count(in, file, at);
            List<DeviceState> devices = new ArrayList<>();
            for (int i = 0; i < d; i++) {
                at = "device " + i;
                Entry e = entry(in, file, at);
                devices.add(new DeviceState(e.id, e.version, e.data));
            }
            if (in.hasRemaining()) {
                throw new SnapshotException(file + ": " + in.remaining() + " bytes after the last device state (corrupt)");
            }
            return new VmStateFile(vcpus, chip, devices);
        } catch (BufferUnderflowException e) {
            throw new SnapshotException(file + ": truncated in " + at + " (" + bytes.length + " bytes)");
        }
    }

    private static List<StateRecord> records(ByteBuffer in, String file, String at) throws SnapshotException {
        int n = count(in, file, at + ": record count");
        List<StateRecord> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Entry e = entry(in, file, at);
            out.add(new StateRecord(e.id, e.version, e.data));
        }
        return out;
    }

    private static int count(ByteBuffer in, String file, String what) throws SnapshotException {
        int n = in.getInt();
        if (n < 0 || n > MAX_COUNT) {
            throw new SnapshotException(file + ": " + what + " " + Integer.toUnsignedString(n) + " is out of range (corrupt)");
        }
        return n;
    }

    private record Entry(String id, int version, byte[] data) {}

    private static Entry entry(ByteBuffer in, String file, String at) throws SnapshotException {
        int idLength = Short.toUnsignedInt(in.getShort());
        if (idLength == 0 || idLength > MAX_ID) {
            throw new SnapshotException(file + ": " + at + ": an id of " + idLength + " bytes (corrupt)");
        }
        byte[] name = new byte[idLength];
        in.get(name);
        String id;
        try {
            id = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(name)).toString();
        } catch (CharacterCodingException e) {
            throw new SnapshotException(file + ": " + at + ": an id that is not UTF-8 (corrupt)");
        }
        int version = in.getInt();
        if (version < 1) {
            throw new SnapshotException(file + ": " + at + ": " + id + " has version " + version + " (corrupt)");
        }
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new SnapshotException(file + ": truncated in " + at + ": " + id + " says " + Integer.toUnsignedString(length)
                    + " bytes, " + in.remaining() + " are left");
        }
        byte[] data = new byte[length];
        in.get(data);
        return new Entry(id, version, data);
    }
}
