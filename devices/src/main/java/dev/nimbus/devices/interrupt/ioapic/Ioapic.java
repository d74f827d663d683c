package dev.nimbus.devices.interrupt.ioapic;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.hypervisor.MsiMessage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.Optional;

/**
 * An I/O APIC (Intel 82093AA, as Linux drives it) in user space, for hypervisors that virtualise the local
 * APICs but not the IOAPIC: Microsoft Hypervisor, and KVM with the split irqchip ({@code KVM_CAP_SPLIT_IRQCHIP}).
 * Each of its {@value #PINS} pins turns an assertion into the MSI its redirection entry describes, which the
 * {@link Output} sends; the local APIC that takes it is the hypervisor's.
 *
 * <p>Registers, in a {@value #SIZE}-byte MMIO window: {@code IOREGSEL} at {@value #IOREGSEL} (the index of the
 * register {@code IOWIN} shows) and {@code IOWIN} at {@value #IOWIN} (32 bits). Indirect registers:
 * <ul>
 *   <li>{@value #REG_ID}: the IOAPIC id in bits 24-31, writable;</li>
 *   <li>{@value #REG_VERSION}: version {@code 0x11} and the highest redirection entry (23) in bits 16-23,
 *       read-only (0x11 has no EOI register: a level interrupt ends with the local APIC's EOI, which the
 *       hypervisor reports, {@link #endOfInterrupt});</li>
 *   <li>{@value #REG_ARBITRATION}: the arbitration id, which reads as the id;</li>
 *   <li>{@code 0x10 + 2n} and {@code 0x11 + 2n}: the low and high halves of redirection entry n (vector 0-7,
 *       delivery mode 8-10, destination mode 11, delivery status 12 (always 0 here: a message goes at once),
 *       polarity 13, remote IRR 14 (read-only), trigger mode 15, mask 16, destination 56-63, and the extended
 *       destination id 49-55 that KVM's {@code KVM_FEATURE_MSI_EXT_DEST_ID} guests use, passed through).</li>
 * </ul>
 *
 * <p>Pins: devices drive a pin's line ({@link #line(int)}) with the assertion, high meaning asserted; the
 * polarity bit is stored and read back but not applied, because the devices here report assertion rather
 * than the electrical level (QEMU and Cloud Hypervisor do the same).
 * <ul>
 *   <li>Edge-triggered: each rising edge on an unmasked pin sends one message; an edge on a masked pin is
 *       lost, as the 82093AA data sheet says.</li>
 *   <li>Level-triggered: an asserted, unmasked pin whose remote IRR is clear sends its message and sets remote
 *       IRR. The guest's EOI of that vector ({@link #endOfInterrupt}) clears it, and if the line is still
 *       asserted the message goes again. Unmasking an asserted pin, or rewriting its entry, sends it too. Writing
 *       an entry as edge-triggered clears remote IRR (Linux's way to unstick a pin on a version 0x11 IOAPIC).</li>
 * </ul>
 * Methods may be called from any thread; the {@link Output} is called with this device's lock held, so the
 * messages of one IOAPIC reach it in the order they happened.
 */
public final class Ioapic implements BusDevice, Snapshottable {
    /** The format of {@link #saveState()}. */
    public static final String STATE_ID = "ioapic-82093aa";
    static final int STATE_VERSION = 1;
    /** id, IOREGSEL, two spare bytes, the asserted pins (a bit each), then every entry, little-endian. */
    static final int STATE_SIZE = 8 + 8 * 24;
    /** Redirection entries (pins). */
    public static final int PINS = 24;
    /** Bytes of the MMIO window. */
    public static final int SIZE = 0x1000;
    public static final int IOREGSEL = 0x00;
    public static final int IOWIN = 0x10;
    public static final int REG_ID = 0x00;
    public static final int REG_VERSION = 0x01;
    public static final int REG_ARBITRATION = 0x02;
    /** The first redirection entry's low half; entry n is at {@code REG_REDIRECTION + 2n}. */
    public static final int REG_REDIRECTION = 0x10;
    /** The version register: version 0x11, maximum redirection entry {@code PINS - 1}. */
    public static final int VERSION = 0x11 | (PINS - 1) << 16;

    static final long VECTOR_MASK = 0xffL;
    static final int DELIVERY_MODE_SHIFT = 8;
    static final long DEST_MODE_LOGICAL = 1L << 11;
    static final long DELIVERY_STATUS = 1L << 12;
    static final long POLARITY_LOW = 1L << 13;
    static final long REMOTE_IRR = 1L << 14;
    static final long TRIGGER_LEVEL = 1L << 15;
    static final long MASKED = 1L << 16;
    static final int EXT_DEST_SHIFT = 49;
    static final int DEST_SHIFT = 56;
    /** What the guest may write: everything but delivery status and remote IRR, and the reserved bits 17-48. */
    static final long WRITABLE = 0xffL << DEST_SHIFT | 0x7fL << EXT_DEST_SHIFT | MASKED | TRIGGER_LEVEL | POLARITY_LOW
            | DEST_MODE_LOGICAL | 0x7L << DELIVERY_MODE_SHIFT | VECTOR_MASK;
    /** The address of an MSI to the local APICs (Intel SDM vol. 3, 11.11.1). */
    static final long MSI_ADDRESS_BASE = 0xfee0_0000L;

    /**
     * Where the IOAPIC's messages go, implemented by the VMM over the hypervisor's MSI delivery. Called with the
     * IOAPIC's lock held.
     */
    public interface Output {
        /**
         * Pin {@code pin}'s entry now makes {@code message}, or, when empty, the pin is masked. Called when the
         * guest changes the entry, before the first {@link #send} with it. A hypervisor that must know which
         * vectors the IOAPIC owns (KVM's split irqchip reports the EOI of a level-triggered vector only when an
         * MSI route of a reserved IOAPIC GSI carries it) installs it here; one that does not may ignore it.
         */
        void route(int pin, Optional<MsiMessage> message);

        /** Delivers pin {@code pin}'s message now. */
        void send(int pin, MsiMessage message);
    }

    private final Output output;
    private final long[] entries = new long[PINS];
    private final boolean[] asserted = new boolean[PINS];
    private final IrqLine[] lines = new IrqLine[PINS];
    private int id;
    private int select;

    /** An IOAPIC with id {@code id} (as the firmware tables give it), every pin masked, edge-triggered. */
    public Ioapic(int id, Output output) {
        if (id < 0 || id > 0xff) {
            throw new IllegalArgumentException("an IOAPIC id is 0-255, not " + id);
        }
        this.id = id;
        this.output = Objects.requireNonNull(output, "output");
        for (int pin = 0; pin < PINS; pin++) {
            entries[pin] = MASKED;
            int p = pin;
            lines[pin] = high -> setPin(p, high);
        }
    }

    /** The interrupt line of pin {@code pin}, to hand to the device wired to it. */
    public IrqLine line(int pin) {
        Objects.checkIndex(pin, PINS);
        return lines[pin];
    }

    /** Drives pin {@code pin}: {@code true} asserted. */
    public synchronized void setPin(int pin, boolean high) {
        Objects.checkIndex(pin, PINS);
        boolean was = asserted[pin];
        asserted[pin] = high;
        long e = entries[pin];
        if (!high || (e & MASKED) != 0) {
            return;
        }
        if ((e & TRIGGER_LEVEL) != 0) {
            deliverLevel(pin);
        } else if (!was) {
            output.send(pin, message(e));
        }
    }

    /**
     * The guest's local APIC ended interrupt {@code vector} (the EOI of a level-triggered interrupt, which the
     * hypervisor hands to user space): every level-triggered entry with that vector and remote IRR set is
     * cleared, and sent again where its line is still asserted.
     */
    public synchronized void endOfInterrupt(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long e = entries[pin];
            if ((e & VECTOR_MASK) == (vector & VECTOR_MASK) && (e & TRIGGER_LEVEL) != 0 && (e & REMOTE_IRR) != 0) {
                entries[pin] = e & ~REMOTE_IRR;
                deliverLevel(pin);
            }
        }
    }

    /** Sends a level-triggered pin's message if it is asserted, unmasked and not waiting for its EOI. */
    private void deliverLevel(int pin) {
        long e = entries[pin];
        if (asserted[pin] && (e & (MASKED | REMOTE_IRR)) == 0) {
            entries[pin] = e | REMOTE_IRR;
            output.send(pin, message(e));
        }
    }

    /** The MSI redirection entry {@code entry} makes (Intel SDM vol. 3, 11.11.1 and 11.11.2). */
    static MsiMessage message(long entry) {
        long address = MSI_ADDRESS_BASE | ((entry >>> DEST_SHIFT) & 0xff) << 12 | ((entry >>> EXT_DEST_SHIFT) & 0x7f) << 5
                | ((entry & DEST_MODE_LOGICAL) != 0 ? 1L << 2 : 0);
        long data = (entry & VECTOR_MASK) | (entry & (0x7L << DELIVERY_MODE_SHIFT));
        if ((entry & TRIGGER_LEVEL) != 0) {
            data |= 1L << 15 | 1L << 14; // level-triggered, asserted
        }
        return MsiMessage.of(address, (int) data);
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == IOREGSEL) {
            return select;
        }
        if (offset == IOWIN) {
            return readRegister(select) & 0xffff_ffffL;
        }
        return 0;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset == IOREGSEL) {
            select = (int) (value & 0xff);
        } else if (offset == IOWIN) {
            writeRegister(select, value & 0xffff_ffffL);
        }
    }

    private long readRegister(int index) {
        return switch (index) {
            case REG_ID, REG_ARBITRATION -> (long) id << 24;
            case REG_VERSION -> VERSION;
            default -> {
                int pin = (index - REG_REDIRECTION) / 2;
                if (index < REG_REDIRECTION || pin >= PINS) {
                    yield 0xffff_ffffL; // no register there
                }
                yield (index & 1) == 0 ? entries[pin] & 0xffff_ffffL : entries[pin] >>> 32;
            }
        };
    }

    private void writeRegister(int index, long value) {
        if (index == REG_ID) {
            id = (int) (value >>> 24) & 0xff;
            return;
        }
        int pin = (index - REG_REDIRECTION) / 2;
        if (index < REG_REDIRECTION || pin >= PINS) {
            return; // version, arbitration and unimplemented registers are read-only
        }
        long old = entries[pin];
        long written = (index & 1) == 0 ? (old & 0xffff_ffff_0000_0000L) | value : (old & 0xffff_ffffL) | value << 32;
        long e = (written & WRITABLE) | (old & REMOTE_IRR);
        if ((e & TRIGGER_LEVEL) == 0) {
            e &= ~REMOTE_IRR; // an edge entry has no remote IRR; Linux writes edge then level to clear a stuck one
        }
        entries[pin] = e;
        if (((old ^ e) & WRITABLE) != 0) {
            output.route(pin, (e & MASKED) != 0 ? Optional.empty() : Optional.of(message(e)));
        }
        if ((e & TRIGGER_LEVEL) != 0) {
            deliverLevel(pin);
        }
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /** Version 1: the id, IOREGSEL, which pins are asserted, and the 24 redirection entries with their remote IRR. */
    @Override
    public synchronized DeviceState saveState() {
        ByteBuffer b = ByteBuffer.allocate(STATE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int lines = 0;
        for (int pin = 0; pin < PINS; pin++) {
            lines |= asserted[pin] ? 1 << pin : 0;
        }
        b.put((byte) id).put((byte) select).putShort((short) 0).putInt(lines);
        for (long e : entries) {
            b.putLong(e);
        }
        return new DeviceState(STATE_ID, STATE_VERSION, b.array());
    }

    /**
     * Takes the registers and line levels back and gives the {@link Output} every unmasked pin's route again (a
     * new VM's routing table starts empty), sending nothing: what was delivered before the save is in the local
     * APICs' state, and a level pin waiting for its EOI still waits. Entries with reserved bits, delivery status
     * or remote IRR on an edge entry are refused.
     */
    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(STATE_ID, STATE_VERSION);
        byte[] d = state.data();
        if (d.length != STATE_SIZE) {
            throw new DeviceStateException(STATE_ID + ": " + d.length + " bytes of state, expected " + STATE_SIZE);
        }
        ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        int newId = Byte.toUnsignedInt(b.get());
        int newSelect = Byte.toUnsignedInt(b.get());
        b.getShort();
        int lines = b.getInt();
        if ((lines & ~((1 << PINS) - 1)) != 0) {
            throw new DeviceStateException(STATE_ID + String.format(": asserted pins 0x%x past pin %d", lines, PINS - 1));
        }
        long[] restored = new long[PINS];
        for (int pin = 0; pin < PINS; pin++) {
            long e = b.getLong();
            if ((e & ~(WRITABLE | REMOTE_IRR)) != 0 || ((e & REMOTE_IRR) != 0 && (e & TRIGGER_LEVEL) == 0)) {
                throw new DeviceStateException(STATE_ID + String.format(": redirection entry %d is 0x%x, not one the guest could set", pin, e));
            }
            restored[pin] = e;
        }
        id = newId;
        select = newSelect;
        for (int pin = 0; pin < PINS; pin++) {
            entries[pin] = restored[pin];
            asserted[pin] = (lines & 1 << pin) != 0;
            if ((restored[pin] & MASKED) == 0) {
                output.route(pin, Optional.of(message(restored[pin])));
            }
        }
    }

    /** Redirection entry {@code pin} as the guest reads it, both halves. */
    public synchronized long redirectionEntry(int pin) {
        return entries[Objects.checkIndex(pin, PINS)];
    }

    @Override
    public String name() {
        return "IOAPIC";
    }
}
