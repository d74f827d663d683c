package dev.nimbus.devices.pci;

import dev.nimbus.devices.bus.Bus;
import dev.nimbus.devices.bus.BusConflictException;
import dev.nimbus.devices.log.RateLimitedLog;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;

import java.lang.System.Logger.Level;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Bus 0 of PCI segment 0: up to 32 single-function devices, the {@link PciHostBridge} at device 0. It
 * serves configuration accesses by (bus, device, function, register), whether they arrive through
 * {@link PciEcam} or {@link PciConfigIo}, and keeps each device's BARs mapped on the MMIO bus where the
 * guest put them: a BAR is on the bus while the device's command register enables memory decoding and
 * the BAR holds an address, and moves when the guest writes a new one. Absent devices, functions other
 * than 0 and other buses read as all ones (no device) and ignore writes.
 */
public final class PciRoot implements Snapshottable {
    private static final System.Logger LOG = System.getLogger(PciRoot.class.getName());
    /** A guest can move BARs onto each other as often as it likes: one line per slot per interval. */
    private final RateLimitedLog guestLog = new RateLimitedLog(LOG);
    public static final int DEVICES = 32;
    static final String STATE_ID = "pci-bus0";
    static final int STATE_VERSION = 1;

    /** Tells the VMM when a BAR appears, moves or disappears (to move ioeventfds with it). */
    public interface BarListener {
        /** BAR {@code bar} of the device in slot {@code slot} went from {@code oldBase} to {@code newBase}; -1 is "not mapped". */
        void barMoved(int slot, PciDevice device, int bar, long oldBase, long newBase);

        BarListener NONE = (slot, device, bar, oldBase, newBase) -> {};
    }

    private final Bus mmio;
    private final PciBarAllocator allocator;
    private final List<BarListener> listeners = new CopyOnWriteArrayList<>();
    private final PciDevice[] slots = new PciDevice[DEVICES];
    private final long[][] mapped = new long[DEVICES][];

    public PciRoot(Bus mmio, PciBarAllocator allocator, BarListener listener) {
        this.mmio = mmio;
        this.allocator = allocator;
        listeners.add(listener);
        add(new PciHostBridge());
    }

    /**
     * Plugs {@code device} into the lowest free slot, declares its BARs in its configuration space and
     * assigns each an address from the windows (mapped once the guest enables memory decoding). Returns
     * the slot (device number).
     */
    public synchronized int add(PciDevice device) {
        int slot = 0;
        while (slot < DEVICES && slots[slot] != null) {
            slot++;
        }
        if (slot == DEVICES) {
            throw new IllegalStateException("PCI bus 0 is full (32 devices): no slot for " + device.name());
        }
        PciConfigSpace config = device.config();
        for (PciBar bar : device.bars()) {
            config.addMemoryBar(bar.index(), bar.size(), bar.is64(), bar.prefetchable());
            config.setBarAddress(bar.index(), bar.is64(), allocator.allocate(bar.size(), bar.is64()));
        }
        slots[slot] = device;
        long[] bases = new long[6];
        Arrays.fill(bases, -1);
        mapped[slot] = bases;
        return slot;
    }

    /** The slot {@link #add} will give the next device (its requester ID is {@link #requesterId} of it). */
    public synchronized int nextSlot() {
        int slot = 0;
        while (slot < DEVICES && slots[slot] != null) {
            slot++;
        }
        if (slot == DEVICES) {
            throw new IllegalStateException("PCI bus 0 is full (32 devices)");
        }
        return slot;
    }

    /** Tells {@code listener} too about BAR moves from now on (the VMM's ioeventfds follow the BARs). */
    public void addBarListener(BarListener listener) {
        listeners.add(listener);
    }

    /** The device in {@code slot}, or null. */
    public synchronized PciDevice device(int slot) {
        return slot >= 0 && slot < DEVICES ? slots[slot] : null;
    }

    /** The PCI requester ID (bus 0) of the function in {@code slot}: device number times 8. */
    public static int requesterId(int slot) {
        return slot << 3;
    }

    /** Reads {@code size} bytes at {@code register} (0-0xfff) of a function's configuration space. */
    public synchronized long configRead(int bus, int device, int function, int register, int size) {
        PciDevice d = find(bus, device, function);
        if (d == null) {
            return Bus.allOnes(size);
        }
        return d.readConfig(register, size);
    }

    /** Writes {@code size} bytes at {@code register} of a function's configuration space. */
    public synchronized void configWrite(int bus, int device, int function, int register, int size, long value) {
        PciDevice d = find(bus, device, function);
        if (d == null || register >= PciConfigSpace.SIZE) {
            return;
        }
        d.config().write(register, size, value);
        if (register < PciConfigSpace.BAR0 + 24 && register + size > PciConfigSpace.COMMAND) {
            updateMappings(device, d);
        }
        d.configWritten(register, size);
    }

    private PciDevice find(int bus, int device, int function) {
        if (bus != 0 || function != 0 || device < 0 || device >= DEVICES) {
            return null;
        }
        return slots[device];
    }

    private void updateMappings(int slot, PciDevice d) {
        PciConfigSpace config = d.config();
        boolean decode = (config.get16(PciConfigSpace.COMMAND) & PciConfigSpace.COMMAND_MEMORY) != 0;
        long[] bases = mapped[slot];
        for (PciBar bar : d.bars()) {
            long address = config.barAddress(bar.index(), bar.is64());
            long wanted = decode && address != 0 ? address : -1;
            long old = bases[bar.index()];
            if (wanted == old) {
                continue;
            }
            if (old >= 0) {
                mmio.remove(old);
            }
            bases[bar.index()] = -1;
            if (wanted >= 0) {
                try {
                    mmio.insert(wanted, bar.size(), bar.region());
                    bases[bar.index()] = wanted;
                } catch (BusConflictException | IllegalArgumentException e) {
                    guestLog.log(Level.WARNING, "BAR of slot " + slot, "{0}: the guest put BAR {1} where it cannot be decoded: {2}",
                            d.name(), bar.index(), e.getMessage());
                }
            }
            for (BarListener l : listeners) {
                l.barMoved(slot, d, bar.index(), old, bases[bar.index()]);
            }
        }
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: the number of functions (u8), then for each, in slot order, its slot (u8) and the 256 bytes of
     * its configuration space (what the guest wrote in it: command register, BAR addresses, MSI-X control,
     * interrupt line...; the read-only rest is there to be checked).
     */
    @Override
    public synchronized DeviceState saveState() {
        StateWriter w = new StateWriter();
        int count = 0;
        for (PciDevice d : slots) {
            count += d != null ? 1 : 0;
        }
        w.u8(count);
        for (int slot = 0; slot < DEVICES; slot++) {
            if (slots[slot] != null) {
                w.u8(slot).bytes(slots[slot].config().bytes());
            }
        }
        return w.done(STATE_ID, STATE_VERSION);
    }

    /**
     * Puts back what the guest wrote into each function's configuration space, then maps every BAR where the
     * guest had put it, as a guest write of the command register and BARs does: on the MMIO bus while memory
     * decoding is enabled, with each {@link BarListener} told ({@code barMoved} from -1), so the VMM's
     * ioeventfds follow. Each function then hears {@link PciDevice#configRestored()}. Refused, changing
     * nothing, when the state has a function in a slot this bus has empty or the reverse, or a function
     * whose read-only bytes (IDs, BAR types, capabilities) differ from the one in its slot.
     */
    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        int count = r.in("function count", 1, 0, DEVICES);
        byte[][] saved = new byte[DEVICES][];
        for (int i = 0; i < count; i++) {
            int slot = r.in("slot", 1, 0, DEVICES - 1);
            r.check(saved[slot] == null, "slot " + slot, "is in the state twice");
            saved[slot] = r.bytes("configuration space of slot " + slot, PciConfigSpace.SIZE);
        }
        r.end();
        for (int slot = 0; slot < DEVICES; slot++) {
            r.check((saved[slot] != null) == (slots[slot] != null), "slot " + slot, slots[slot] == null
                    ? "has a function in the state and none on this bus" : "(" + slots[slot].name() + ") is missing from the state");
            if (saved[slot] != null) {
                int at = slots[slot].config().firstReadOnlyDifference(saved[slot]);
                r.check(at < 0, "slot " + slot, String.format("(%s): configuration byte 0x%02x is 0x%02x in the state, a bit the guest"
                        + " cannot write differs from this function's 0x%02x (another function?)", slots[slot].name(), at,
                        at < 0 ? 0 : saved[slot][at] & 0xff, at < 0 ? 0 : slots[slot].config().get8(at)));
            }
        }
        for (int slot = 0; slot < DEVICES; slot++) {
            if (saved[slot] != null) {
                slots[slot].config().restoreWritable(saved[slot]);
                updateMappings(slot, slots[slot]);
                slots[slot].configRestored();
            }
        }
    }

    /** Where BAR {@code bar} of the device in {@code slot} is mapped now, or -1. */
    public synchronized long mappedBase(int slot, int bar) {
        return mapped[slot] == null ? -1 : mapped[slot][bar];
    }
}
