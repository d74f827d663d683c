package dev.nimbus.devices.pci;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.hypervisor.MsiMessage;

/**
 * An MSI-X capability (PCI Local Bus 3.0, 6.8.2): the capability in configuration space, the vector table
 * and the pending-bit array (PBA), which the owning function places in one of its memory BARs and forwards
 * accesses to ({@link #readTable}, {@link #writeTable}, {@link #readPba}).
 *
 * <p>A vector that fires while MSI-X is enabled but the vector or the whole function is masked sets its
 * pending bit instead; unmasking delivers it then. While MSI-X is disabled a signal is dropped (Nimbus has
 * no INTx). Delivery goes through {@link MsiRouting}, told each vector's message lazily, before the first
 * delivery after the guest changed it.
 */
public final class MsixCapability implements Snapshottable {
    public static final int CAPABILITY_ID = 0x11;
    public static final int ENTRY_SIZE = 16;
    /** Message control: MSI-X enable. */
    public static final int CONTROL_ENABLE = 1 << 15;
    /** Message control: function mask. */
    public static final int CONTROL_FUNCTION_MASK = 1 << 14;
    /** Vector control: the entry is masked. */
    public static final int VECTOR_MASKED = 1;
    static final String STATE_ID = "msix";
    static final int STATE_VERSION = 1;

    private final PciConfigSpace config;
    private final int offset;
    private final MsiRouting routing;
    private final int deviceId;
    private final int count;
    private final int[] table;
    private final long[] pending;
    private final boolean[] dirty;
    private boolean enabled;
    private boolean functionMasked;

    /**
     * Adds the capability to {@code config} with {@code count} vectors whose table is at {@code tableOffset}
     * and PBA at {@code pbaOffset} of BAR {@code bar} (both 8-byte aligned). {@code deviceId} goes into
     * every {@link MsiMessage} (the requester ID where the interrupt controller needs it, else -1).
     */
    public MsixCapability(PciConfigSpace config, int count, int bar, int tableOffset, int pbaOffset,
                          MsiRouting routing, int deviceId) {
        if (count < 1 || count > 2048) {
            throw new IllegalArgumentException("MSI-X has 1 to 2048 vectors, not " + count);
        }
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0) {
            throw new IllegalArgumentException("MSI-X table and PBA offsets must be 8-byte aligned");
        }
        this.config = config;
        this.routing = routing;
        this.deviceId = deviceId;
        this.count = count;
        this.table = new int[count * 4];
        this.pending = new long[(count + 63) / 64];
        this.dirty = new boolean[count];
        for (int v = 0; v < count; v++) {
            table[v * 4 + 3] = VECTOR_MASKED; // masked at reset
            dirty[v] = true;
        }
        byte[] body = new byte[12];
        body[0] = CAPABILITY_ID;
        putLe(body, 2, count - 1, 2);
        putLe(body, 4, tableOffset | bar, 4);
        putLe(body, 8, pbaOffset | bar, 4);
        this.offset = config.addCapability(body);
        config.setWritable(offset + 2, 2, CONTROL_ENABLE | CONTROL_FUNCTION_MASK);
    }

    private static void putLe(byte[] b, int at, int value, int size) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (value >>> (8 * i));
        }
    }

    /** The capability's offset in configuration space. */
    public int offset() {
        return offset;
    }

    public int vectorCount() {
        return count;
    }

    /** Bytes of the vector table. */
    public int tableSize() {
        return count * ENTRY_SIZE;
    }

    /** Bytes of the PBA (whole quadwords). */
    public int pbaSize() {
        return pending.length * 8;
    }

    /** The handle a device signals vector {@code vector} through. */
    public MsiVector vector(int vector) {
        if (vector < 0 || vector >= count) {
            throw new IllegalArgumentException("no MSI-X vector " + vector + " of " + count);
        }
        return () -> signal(vector);
    }

    public synchronized boolean enabled() {
        return enabled;
    }

    public synchronized boolean pending(int vector) {
        return (pending[vector >>> 6] & (1L << vector)) != 0;
    }

    /** Delivers {@code vector} or, while it is masked, marks it pending. */
    public synchronized void signal(int vector) {
        if (!enabled) {
            return;
        }
        if (functionMasked || masked(vector)) {
            pending[vector >>> 6] |= 1L << vector;
            return;
        }
        deliver(vector);
    }

    /** The function wrote configuration space at {@code [at, at+size)}: picks up message control changes. */
    public synchronized void configWritten(int at, int size) {
        if (at + size <= offset + 2 || at >= offset + 4) {
            return;
        }
        int control = config.get16(offset + 2);
        enabled = (control & CONTROL_ENABLE) != 0;
        functionMasked = (control & CONTROL_FUNCTION_MASK) != 0;
        deliverPendingUnmasked();
    }

    /** A read of the vector table at {@code at} (relative to the table's start). */
    public synchronized long readTable(int at, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int b = at + i;
            if (b >= 0 && b < count * ENTRY_SIZE) {
                v |= (long) ((table[b >>> 2] >>> (8 * (b & 3))) & 0xff) << (8 * i);
            }
        }
        return v;
    }

    /** A write to the vector table; only the mask bit of the vector control word is writable there. */
    public synchronized void writeTable(int at, int size, long value) {
        boolean unmasked = false;
        for (int i = 0; i < size; i++) {
            int b = at + i;
            if (b < 0 || b >= count * ENTRY_SIZE) {
                continue;
            }
            int word = b >>> 2;
            int shift = 8 * (b & 3);
            int old = table[word];
            int updated = (old & ~(0xff << shift)) | (int) ((value >>> (8 * i)) & 0xff) << shift;
            if ((word & 3) == 3) {
                updated &= VECTOR_MASKED; // reserved bits of vector control read as zero
                unmasked |= (old & VECTOR_MASKED) != 0 && (updated & VECTOR_MASKED) == 0;
            } else if (updated != old) {
                dirty[word >>> 2] = true;
            }
            table[word] = updated;
        }
        if (unmasked) {
            deliverPendingUnmasked();
        }
    }

    /** A read of the PBA at {@code at} (relative to its start); writes to the PBA are ignored. */
    public synchronized long readPba(int at, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int b = at + i;
            if (b >= 0 && b < pending.length * 8) {
                v |= ((pending[b >>> 3] >>> (8 * (b & 7))) & 0xff) << (8 * i);
            }
        }
        return v;
    }

    /** The message vector {@code vector} holds now. */
    public synchronized MsiMessage message(int vector) {
        long address = (table[vector * 4] & 0xffff_ffffL) | (long) table[vector * 4 + 1] << 32;
        return new MsiMessage(address, table[vector * 4 + 2], deviceId);
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: the vector count (u16), message control's enable and function mask (u8: bits 0 and 1), the
     * table (per vector: address low, address high, data, vector control; u32 each) and the PBA (u64 words).
     */
    @Override
    public synchronized DeviceState saveState() {
        StateWriter w = new StateWriter().u16(count).u8((enabled ? 1 : 0) | (functionMasked ? 2 : 0));
        for (int word : table) {
            w.u32(word);
        }
        for (long p : pending) {
            w.u64(p);
        }
        return w.done(STATE_ID, STATE_VERSION);
    }

    /**
     * Takes the table, PBA, enable and function mask back (message control in configuration space too) and
     * gives {@link MsiRouting} the message of every vector that can fire now (enabled, neither it nor the
     * function masked), as the first delivery after the guest programmed it would: a new VM's routes start
     * empty. The others are given theirs before their first delivery, as always. Nothing is delivered.
     */
    @Override
    public synchronized void restoreState(DeviceState state) {
        restore(read(state));
    }

    /** A state {@link #read} checked, for {@link #restore}. */
    public record Saved(int control, int[] table, long[] pending) {}

    /** Reads and checks {@code state} without changing anything (a transport checks all its parts before it restores any). */
    public Saved read(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        r.in("vector count", 2, count, count);
        int control = r.in("control", 1, 0, 3);
        int[] newTable = new int[table.length];
        for (int v = 0; v < count; v++) {
            for (int i = 0; i < 4; i++) {
                newTable[v * 4 + i] = r.u32("vector " + v);
            }
            r.check((newTable[v * 4 + 3] & ~VECTOR_MASKED) == 0, "vector " + v,
                    String.format("control 0x%x has reserved bits set", newTable[v * 4 + 3]));
        }
        long[] newPending = new long[pending.length];
        for (int i = 0; i < pending.length; i++) {
            newPending[i] = r.u64("pending bits");
        }
        int tail = count % 64;
        r.check(tail == 0 || (newPending[pending.length - 1] >>> tail) == 0, "pending bits", "name vectors past " + (count - 1));
        r.end();
        return new Saved(control, newTable, newPending);
    }

    /** {@link #restoreState} of a state {@link #read} checked. */
    public synchronized void restore(Saved saved) {
        int control = saved.control();
        int[] newTable = saved.table();
        long[] newPending = saved.pending();
        System.arraycopy(newTable, 0, table, 0, table.length);
        System.arraycopy(newPending, 0, pending, 0, pending.length);
        int kept = config.get16(offset + 2) & ~(CONTROL_ENABLE | CONTROL_FUNCTION_MASK);
        config.set16(offset + 2, kept | ((control & 1) != 0 ? CONTROL_ENABLE : 0) | ((control & 2) != 0 ? CONTROL_FUNCTION_MASK : 0));
        enabled = (control & 1) != 0;
        functionMasked = (control & 2) != 0;
        java.util.Arrays.fill(dirty, true);
        configureLive();
    }

    /**
     * Configuration space was restored under this capability ({@link PciDevice#configRestored()}): takes
     * enable and function mask from message control, and routes the vectors that can fire now.
     */
    public synchronized void configRestored() {
        int control = config.get16(offset + 2);
        enabled = (control & CONTROL_ENABLE) != 0;
        functionMasked = (control & CONTROL_FUNCTION_MASK) != 0;
        configureLive();
    }

    private void configureLive() {
        if (!enabled || functionMasked) {
            return;
        }
        for (int v = 0; v < count; v++) {
            if (dirty[v] && !masked(v)) {
                dirty[v] = false;
                routing.configure(v, message(v));
            }
        }
    }

    /** Back to the power-on state: disabled, every vector masked, nothing pending (a function reset). */
    public synchronized void reset() {
        config.set16(offset + 2, config.get16(offset + 2) & ~(CONTROL_ENABLE | CONTROL_FUNCTION_MASK));
        enabled = false;
        functionMasked = false;
        java.util.Arrays.fill(table, 0);
        java.util.Arrays.fill(pending, 0);
        for (int v = 0; v < count; v++) {
            table[v * 4 + 3] = VECTOR_MASKED;
            dirty[v] = true;
        }
    }

    private boolean masked(int vector) {
        return (table[vector * 4 + 3] & VECTOR_MASKED) != 0;
    }

    private void deliverPendingUnmasked() {
        if (!enabled || functionMasked) {
            return;
        }
        for (int v = 0; v < count; v++) {
            long bit = 1L << v;
            if ((pending[v >>> 6] & bit) != 0 && !masked(v)) {
                pending[v >>> 6] &= ~bit;
                deliver(v);
            }
        }
    }

    private void deliver(int vector) {
        if (dirty[vector]) {
            dirty[vector] = false;
            routing.configure(vector, message(vector));
        }
        routing.signal(vector);
    }
}
