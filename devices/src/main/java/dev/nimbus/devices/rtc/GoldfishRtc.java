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
 * The Goldfish real-time clock of riscv64 "virt" machines (Linux's {@code rtc-goldfish}, compatible
 * {@code google,goldfish-rtc}): nanoseconds since 1970 (UTC) in two 32-bit halves and a one-shot alarm.
 * 32-bit registers:
 * <pre>
 *   0x00 TIME_LOW         read: low half of the time, and latches the high half; write: sets the time
 *                         from the high half written before and this low half
 *   0x04 TIME_HIGH        read: the latched high half; write: the high half for the next TIME_LOW write
 *   0x08 ALARM_LOW        write: arms the alarm at (ALARM_HIGH written before, this)
 *   0x0C ALARM_HIGH       write: the high half for the next ALARM_LOW write
 *   0x10 IRQ_ENABLED      bit 0
 *   0x14 CLEAR_ALARM      write: disarms the alarm
 *   0x18 ALARM_STATUS     read: 1 while the alarm is armed
 *   0x1C CLEAR_INTERRUPT  write: lowers the interrupt
 * </pre>
 * An alarm that comes due sets the interrupt pending and disarms itself; the line is high while an interrupt
 * is pending and enabled. Time runs on the host clock; setting it keeps the difference.
 */
public final class GoldfishRtc implements BusDevice, AutoCloseable, Snapshottable {
    /** Bytes of MMIO the device answers. */
    public static final int SIZE = 0x1000;

    static final int TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c, IRQ_ENABLED = 0x10,
            CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;
    static final String STATE_ID = "goldfish-rtc";
    static final int STATE_VERSION = 1;

    private final Clock clock;
    private final IrqLine irq;
    private final Wakeups wakeups;
    /** Guest time minus host time, in nanoseconds. */
    private long offsetNanos;
    private int latchedHigh;
    private int timeHighWritten;
    private int alarmHighWritten;
    private long alarmNanos;
    private boolean alarmArmed;
    private boolean irqEnabled;
    private boolean irqPending;
    private Wakeups.Cancellable pendingWakeup;
    private Instant scheduledFor;
    private boolean irqHigh;
    private boolean closed;

    public GoldfishRtc(Clock clock, IrqLine irq, Wakeups wakeups) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.wakeups = Objects.requireNonNull(wakeups, "wakeups");
    }

    @Override
    public String name() {
        return "Goldfish RTC";
    }

    @Override
    public synchronized long read(long offset, int size) {
        checkAlarm();
        update();
        int value = switch ((int) offset & ~3) {
            case TIME_LOW -> {
                long now = nowNanos();
                latchedHigh = (int) (now >>> 32);
                yield (int) now;
            }
            case TIME_HIGH -> latchedHigh;
            case ALARM_LOW -> (int) alarmNanos;
            case ALARM_HIGH -> (int) (alarmNanos >>> 32);
            case IRQ_ENABLED -> irqEnabled ? 1 : 0;
            case ALARM_STATUS -> alarmArmed ? 1 : 0;
            default -> 0;
        };
        return (value & 0xffff_ffffL) >>> (8 * ((int) offset & 3));
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (size != 4 || (offset & 3) != 0) {
            return;
        }
        int v = (int) value;
        switch ((int) offset) {
            case TIME_HIGH -> timeHighWritten = v;
            case TIME_LOW -> offsetNanos = ((long) timeHighWritten << 32 | Integer.toUnsignedLong(v)) - hostNanos();
            case ALARM_HIGH -> alarmHighWritten = v;
            case ALARM_LOW -> {
                alarmNanos = (long) alarmHighWritten << 32 | Integer.toUnsignedLong(v);
                alarmArmed = true;
            }
            case IRQ_ENABLED -> irqEnabled = (v & 1) != 0;
            case CLEAR_ALARM -> alarmArmed = false;
            case CLEAR_INTERRUPT -> irqPending = false;
            default -> {
            }
        }
        checkAlarm();
        update();
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: the guest's offset from the host clock in nanoseconds (i64), the latched TIME_HIGH, the
     * TIME_HIGH and ALARM_HIGH written (u32 each), the alarm time (i64), then alarm armed, interrupt enabled
     * and interrupt pending (u8 each). The offset, not a time, is saved: the restored clock goes on following
     * the host's, and an alarm that came due meanwhile fires at once.
     */
    @Override
    public synchronized DeviceState saveState() {
        return new StateWriter().u64(offsetNanos).u32(latchedHigh).u32(timeHighWritten).u32(alarmHighWritten).u64(alarmNanos)
                .bool(alarmArmed).bool(irqEnabled).bool(irqPending).done(STATE_ID, STATE_VERSION);
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        long newOffset = r.u64("offset");
        int newLatched = r.u32("latched TIME_HIGH");
        int newTimeHigh = r.u32("TIME_HIGH written");
        int newAlarmHigh = r.u32("ALARM_HIGH written");
        long newAlarm = r.u64("alarm");
        boolean newArmed = r.bool("alarm armed");
        boolean newEnabled = r.bool("interrupt enabled");
        boolean newPending = r.bool("interrupt pending");
        r.end();
        offsetNanos = newOffset;
        latchedHigh = newLatched;
        timeHighWritten = newTimeHigh;
        alarmHighWritten = newAlarmHigh;
        alarmNanos = newAlarm;
        alarmArmed = newArmed;
        irqEnabled = newEnabled;
        irqPending = newPending;
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

    private long hostNanos() {
        Instant t = clock.instant();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    private long nowNanos() {
        return hostNanos() + offsetNanos;
    }

    private void checkAlarm() {
        if (alarmArmed && nowNanos() >= alarmNanos) {
            alarmArmed = false;
            irqPending = true;
        }
    }

    private void update() {
        boolean high = irqPending && irqEnabled;
        if (high != irqHigh) {
            irqHigh = high;
            irq.set(high);
        }
        Instant due = null;
        if (!closed && alarmArmed) {
            long hostDue = alarmNanos - offsetNanos;
            due = Instant.ofEpochSecond(Math.floorDiv(hostDue, 1_000_000_000L), Math.floorMod(hostDue, 1_000_000_000L));
        }
        if (pendingWakeup != null && (due == null || !due.equals(scheduledFor))) {
            pendingWakeup.cancel();
            pendingWakeup = null;
        }
        if (due != null && pendingWakeup == null) {
            pendingWakeup = wakeups.at(due, this::wakeUp);
            scheduledFor = due;
        }
    }

    private synchronized void wakeUp() {
        pendingWakeup = null;
        if (closed) {
            return;
        }
        try {
            checkAlarm();
            update();
        } catch (RuntimeException e) {
            closed = true; // the line is gone with the VM
        }
    }
}
