package dev.nimbus.devices.rtc;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.devices.time.Wakeups;

import java.time.Clock;
import java.time.Instant;
import java.util.Objects;

/**
 * The Arm PrimeCell PL031 real-time clock: a 32-bit counter of seconds since 1970 (UTC), a match register
 * that raises the interrupt when the counter reaches it, and the PrimeCell identification registers that
 * Linux's AMBA bus reads to bind the {@code rtc-pl031} driver. 4 KiB of MMIO, 32-bit registers:
 * <pre>
 *   0x000 RTCDR    data: the counter (read-only)
 *   0x004 RTCMR    match
 *   0x008 RTCLR    load: writing sets the counter
 *   0x00C RTCCR    control: bit 0 "started", always 1
 *   0x010 RTCIMSC  interrupt mask (bit 0)
 *   0x014 RTCRIS   raw interrupt status (bit 0)
 *   0x018 RTCMIS   masked interrupt status
 *   0x01C RTCICR   interrupt clear (write 1)
 *   0xFE0-0xFFC    peripheral and PrimeCell IDs (0x00041031, 0xB105F00D)
 * </pre>
 * The counter runs on the host clock; a load keeps the difference. The match interrupt is level: high while
 * RIS and IMSC are both set. A narrower read gets the bytes of the register it falls in; narrower or
 * unaligned writes are ignored.
 */
public final class Pl031Rtc implements BusDevice, AutoCloseable, Snapshottable {
    /** Bytes of MMIO the device answers. */
    public static final int SIZE = 0x1000;

    static final int DR = 0x000, MR = 0x004, LR = 0x008, CR = 0x00c, IMSC = 0x010, RIS = 0x014, MIS = 0x018, ICR = 0x01c;
    static final String STATE_ID = "pl031";
    static final int STATE_VERSION = 1;
    private static final int[] IDS = {0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1}; // at 0xFE0, 0xFE4, ... 0xFFC

    private final Clock clock;
    private final IrqLine irq;
    private final Wakeups wakeups;
    /** Counter minus host seconds. */
    private long offset;
    private int match;
    private boolean maskSet;
    private boolean raw;
    /** The counter value up to which matches have been looked for. */
    private long checkedUpTo;
    private Wakeups.Cancellable pendingWakeup;
    private Instant scheduledFor;
    private boolean irqHigh;
    private boolean closed;

    public Pl031Rtc(Clock clock, IrqLine irq, Wakeups wakeups) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.wakeups = Objects.requireNonNull(wakeups, "wakeups");
        this.checkedUpTo = counter();
    }

    @Override
    public String name() {
        return "PL031 RTC";
    }

    @Override
    public synchronized long read(long offset, int size) {
        int reg = (int) offset & ~3;
        long value = readRegister(reg) & 0xffff_ffffL;
        return value >>> (8 * ((int) offset & 3));
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (size != 4 || (offset & 3) != 0) {
            return;
        }
        int v = (int) value;
        switch ((int) offset) {
            case MR -> {
                match = v;
                checkMatch();
            }
            case LR -> {
                this.offset = Integer.toUnsignedLong(v) - hostSeconds();
                checkedUpTo = counter(); // a jump is not a match
            }
            case IMSC -> maskSet = (v & 1) != 0;
            case ICR -> {
                if ((v & 1) != 0) {
                    raw = false;
                }
            }
            default -> {
                // DR, RIS and MIS are read-only; CR's start bit stays set
            }
        }
        update();
    }

    /** The 32-bit register at {@code reg}, as the guest reads it. */
    private int readRegister(int reg) {
        checkMatch();
        update();
        if (reg >= 0xfe0 && reg <= 0xffc) {
            return IDS[(reg - 0xfe0) / 4];
        }
        return switch (reg) {
            case DR -> (int) counter();
            case MR -> match;
            case LR -> (int) counter();
            case CR -> 1;
            case IMSC -> maskSet ? 1 : 0;
            case RIS -> raw ? 1 : 0;
            case MIS -> raw && maskSet ? 1 : 0;
            default -> 0;
        };
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: the counter's offset from the host clock in seconds (i64), the match register (u32), the
     * counter value up to which matches were looked for (i64), the mask and the raw status (u8 each). The
     * offset, not a time, is saved: the restored counter goes on following the host clock, and a match that
     * came due meanwhile is raised when it is next looked at.
     */
    @Override
    public synchronized DeviceState saveState() {
        return new StateWriter().u64(offset).u32(match).u64(checkedUpTo).bool(maskSet).bool(raw).done(STATE_ID, STATE_VERSION);
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        long newOffset = r.u64("offset");
        int newMatch = r.u32("match");
        long newChecked = r.u64("checked up to");
        boolean newMask = r.bool("mask");
        boolean newRaw = r.bool("raw status");
        r.end();
        offset = newOffset;
        match = newMatch;
        checkedUpTo = newChecked;
        maskSet = newMask;
        raw = newRaw;
        update();
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (pendingWakeup != null) {
            pendingWakeup.cancel();
            pendingWakeup = null;
        }
    }

    private long hostSeconds() {
        return clock.instant().getEpochSecond();
    }

    /** The counter, before it is cut to 32 bits. */
    private long counter() {
        return hostSeconds() + offset;
    }

    /** Sets RIS when the counter has reached the match value since the last look. */
    private void checkMatch() {
        long now = counter();
        long target = matchAtOrAfter(checkedUpTo + 1);
        if (target <= now) {
            raw = true;
        }
        checkedUpTo = Math.max(checkedUpTo, now);
    }

    /** The first counter value at or after {@code from} whose low 32 bits equal the match register. */
    private long matchAtOrAfter(long from) {
        long candidate = (from & ~0xffff_ffffL) | Integer.toUnsignedLong(match);
        return candidate >= from ? candidate : candidate + (1L << 32);
    }

    private void update() {
        boolean high = raw && maskSet;
        if (high != irqHigh) {
            irqHigh = high;
            irq.set(high);
        }
        boolean wanted = !closed && maskSet && !raw;
        Instant due = wanted ? Instant.ofEpochSecond(matchAtOrAfter(checkedUpTo + 1) - offset) : null;
        if (pendingWakeup != null && !due(due)) {
            pendingWakeup.cancel();
            pendingWakeup = null;
        }
        if (due != null && pendingWakeup == null) {
            pendingWakeup = wakeups.at(due, this::wakeUp);
            scheduledFor = due;
        }
    }

    /** Whether the timer already set is for {@code due}. */
    private boolean due(Instant due) {
        return due != null && due.equals(scheduledFor);
    }

    private synchronized void wakeUp() {
        pendingWakeup = null;
        if (closed) {
            return;
        }
        try {
            checkMatch();
            update();
        } catch (RuntimeException e) {
            closed = true; // the line is gone with the VM
        }
    }
}
