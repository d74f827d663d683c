package dev.nimbus.devices.rtc;

import dev.nimbus.devices.bus.ByteRegisterDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.devices.time.Wakeups;

import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * The PC CMOS real-time clock (MC146818), reached through an index port and a data port (0x70 and 0x71 on a
 * PC; offsets 0 and 1 of its range).
 *
 * <p>The clock shows the host's time in UTC. The guest may set it (registers 0x00-0x09 and the century
 * byte 0x32, with or without register B's SET bit); what it sets is kept as an offset from the host clock,
 * so the clock keeps running. Values follow register B: BCD or binary (DM, bit 2), 24- or 12-hour with the
 * PM flag in bit 7 of the hour (bit 1). Register A's update-in-progress bit is set in the last 244 us of
 * every second, as on the chip, so a guest that waits for it to clear reads a consistent time. Register D
 * reports valid RAM and time.
 *
 * <p>Interrupts: every second's update sets UF in register C, and AF when the time matches the alarm
 * registers (0x01, 0x03, 0x05; a value of 0xC0-0xFF matches anything). When register B enables one of them
 * (UIE, AIE), IRQF is set and the interrupt line goes high until the guest reads register C, which clears the
 * flags. Linux's rtc-cmos uses these for alarms and for its emulation of update interrupts
 * ({@code hwclock}). A host timer ({@link Wakeups}) wakes the device at second boundaries only while an
 * enabled interrupt is armed and not yet raised. The periodic interrupt (PIE/PF) is not generated.
 *
 * <p>Writing the index port ignores bit 7, the NMI mask of a PC, which a VM has no use for. The other
 * bytes are plain RAM; the memory-size bytes that firmware reads (OVMF: 0x34/0x35 and 0x5b-0x5d; older
 * BIOSes: 0x15-0x18, 0x30/0x31) are filled in from the RAM sizes given. Linux itself takes the memory map
 * from the boot protocol and never reads them.
 */
public final class CmosRtc extends ByteRegisterDevice implements AutoCloseable, Snapshottable {
    private static final System.Logger LOG = System.getLogger(CmosRtc.class.getName());

    /** Register numbers. */
    public static final int SECONDS = 0x00, SECONDS_ALARM = 0x01, MINUTES = 0x02, MINUTES_ALARM = 0x03, HOURS = 0x04,
            HOURS_ALARM = 0x05, DAY_OF_WEEK = 0x06, DAY_OF_MONTH = 0x07, MONTH = 0x08, YEAR = 0x09,
            REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32;

    static final int A_UIP = 0x80;
    static final int B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_BINARY = 0x04, B_24H = 0x02;
    static final int C_IRQF = 0x80, C_AF = 0x20, C_UF = 0x10;
    /** A value of 0xC0-0xFF in an alarm register matches every value. */
    static final int ALARM_DONT_CARE = 0xc0;
    static final int D_VRT = 0x80;
    static final int HOUR_PM = 0x80;
    /** Update-in-progress is set this long before each second boundary. */
    static final int UIP_NANOS = 244_000;
    static final String STATE_ID = "cmos-rtc";
    static final int STATE_VERSION = 1;

    private final Clock clock;
    private final IrqLine irq;
    private final Wakeups wakeups;
    private final byte[] ram = new byte[128];
    private int index;
    private int regA = 0x26; // 32.768 kHz time base, 1.024 kHz periodic rate
    private int regB = B_24H;
    /** Guest time minus host time, in seconds. */
    private long offsetSeconds;
    /** The time while register B's SET bit holds the clock. */
    private Fields held;
    private boolean badWriteLogged;
    /** Register C's flags (without IRQF, which follows from them and register B). */
    private int flags;
    /** The last second whose update has been accounted for in {@link #flags}. */
    private long lastUpdateSecond;
    private Wakeups.Cancellable pendingWakeup;
    private boolean irqHigh;
    private boolean closed;

    /** A clock on the host's time, with no memory sizes filled in and no interrupt. */
    public CmosRtc(Clock clock) {
        this(clock, IrqLine.NONE, Wakeups.NONE, 0, 0);
    }

    /**
     * @param clock         the host clock (its zone is ignored; the RTC keeps UTC)
     * @param irq           the RTC's interrupt line (ISA IRQ 8)
     * @param wakeups       host timers on {@code clock}, for update and alarm interrupts
     * @param ramBelow4Gib  bytes of RAM from address 0 up to where RAM ends below 4 GiB
     * @param ramAbove4Gib  bytes of RAM at 4 GiB and above
     */
    public CmosRtc(Clock clock, IrqLine irq, Wakeups wakeups, long ramBelow4Gib, long ramAbove4Gib) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.wakeups = Objects.requireNonNull(wakeups, "wakeups");
        this.lastUpdateSecond = clock.instant().getEpochSecond();
        if (ramBelow4Gib < 0 || ramAbove4Gib < 0) {
            throw new IllegalArgumentException("RAM sizes must not be negative");
        }
        fillMemorySize(ramBelow4Gib, ramAbove4Gib);
    }

    @Override
    public String name() {
        return "CMOS RTC";
    }

    @Override
    protected synchronized int readByte(int offset) {
        return offset == 1 ? readRegister(index) : 0xff; // the index port is write-only
    }

    @Override
    protected synchronized void writeByte(int offset, int value) {
        if (offset == 0) {
            index = value & 0x7f; // bit 7 masks NMI on a PC: nothing to mask here
        } else if (offset == 1) {
            writeRegister(index, value);
            afterAccess();
        }
    }

    /** Stops the host timer; the device answers accesses but raises no more interrupts. */
    @Override
    public synchronized void close() {
        closed = true;
        if (pendingWakeup != null) {
            pendingWakeup.cancel();
            pendingWakeup = null;
        }
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: the 128 bytes of CMOS RAM, the index, registers A and B, register C's flags, the guest's
     * offset from the host clock in seconds (i64) and the last second whose update was accounted for (i64,
     * guest time), then whether SET holds the clock (u8) and, if it does, the held time (second, minute,
     * hour, day, month as u8, year as u32). The offset, not a time, is saved: a restored clock goes on
     * following the host's, so it shows the time that passed while the machine was saved, as a real RTC
     * across a suspend; the updates of that time are accounted for at the next access.
     */
    @Override
    public synchronized DeviceState saveState() {
        StateWriter w = new StateWriter().bytes(ram).u8(index).u8(regA).u8(regB).u8(flags).u64(offsetSeconds).u64(lastUpdateSecond)
                .bool(held != null);
        if (held != null) {
            w.u8(held.second).u8(held.minute).u8(held.hour).u8(held.day).u8(held.month).u32(held.year);
        }
        return w.done(STATE_ID, STATE_VERSION);
    }

    /** Takes the registers back, drives the interrupt line from them and arms the update timer they ask for. */
    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        byte[] newRam = r.bytes("CMOS RAM", ram.length);
        int newIndex = r.in("index", 1, 0, 0x7f);
        int newA = r.in("register A", 1, 0, 0x7f);
        int newB = r.u8("register B");
        int newFlags = r.u8("register C");
        r.check((newFlags & ~(C_AF | C_UF)) == 0, "register C", String.format("0x%02x has flags the clock never sets", newFlags));
        long newOffset = r.u64("offset");
        long newLast = r.u64("last update");
        Fields newHeld = null;
        if (r.bool("held")) {
            newHeld = new Fields();
            newHeld.second = r.u8("held second");
            newHeld.minute = r.u8("held minute");
            newHeld.hour = r.u8("held hour");
            newHeld.day = r.u8("held day");
            newHeld.month = r.u8("held month");
            newHeld.year = r.in("held year", 4, 0, 25_755); // the most the year and century registers can make
        }
        r.end();
        r.check((newB & B_SET) != 0 == (newHeld != null), "register B", "SET does not match whether the time is held");
        r.check((newB & B_SET) == 0 || (newB & B_UIE) == 0, "register B", "has UIE with SET, which clears it");
        System.arraycopy(newRam, 0, ram, 0, ram.length);
        index = newIndex;
        regA = newA;
        regB = newB;
        flags = newFlags;
        offsetSeconds = newOffset;
        lastUpdateSecond = newLast;
        held = newHeld;
        afterAccess();
    }

    /**
     * Register {@code reg}'s value, exactly as a guest read of it (reading register C clears its flags).
     */
    public synchronized int readRegister(int reg) {
        if (reg == REG_C) {
            catchUp();
            int value = flags | (interruptFlag() ? C_IRQF : 0);
            flags = 0;
            afterAccess();
            return value;
        }
        return switch (reg) {
            case SECONDS -> encode(current().second);
            case MINUTES -> encode(current().minute);
            case HOURS -> encodeHour(current().hour);
            case DAY_OF_WEEK -> encode(current().dayOfWeek());
            case DAY_OF_MONTH -> encode(current().day);
            case MONTH -> encode(current().month);
            case YEAR -> encode(current().year % 100);
            case CENTURY -> encode(current().year / 100);
            case REG_A -> regA | (updateInProgress() ? A_UIP : 0);
            case REG_B -> regB;
            case REG_D -> D_VRT;
            default -> ram[reg & 0x7f] & 0xff;
        };
    }

    private void writeRegister(int reg, int value) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> writeTime(reg, value);
            case DAY_OF_WEEK -> { } // follows from the date
            case REG_A -> regA = value & 0x7f; // UIP is read-only
            case REG_B -> writeRegB(value);
            case REG_C, REG_D -> { } // read-only
            default -> ram[reg & 0x7f] = (byte) value;
        }
    }

    /** The date and time fields, as the registers hold them (perhaps not a valid date while SET holds them). */
    private static final class Fields {
        int second, minute, hour, day, month, year;

        static Fields of(LocalDateTime t) {
            Fields f = new Fields();
            f.second = t.getSecond();
            f.minute = t.getMinute();
            f.hour = t.getHour();
            f.day = t.getDayOfMonth();
            f.month = t.getMonthValue();
            f.year = t.getYear();
            return f;
        }

        LocalDateTime toDateTime() {
            return LocalDateTime.of(year, month, day, hour, minute, second);
        }

        int dayOfWeek() {
            try {
                return toDateTime().getDayOfWeek().getValue() % 7 + 1; // Sunday is 1
            } catch (DateTimeException e) {
                return 1;
            }
        }
    }

    private void writeTime(int reg, int value) {
        Fields f = held != null ? held : current();
        int v = reg == HOURS ? decodeHour(value) : decode(value);
        switch (reg) {
            case SECONDS -> f.second = v;
            case MINUTES -> f.minute = v;
            case HOURS -> f.hour = v;
            case DAY_OF_MONTH -> f.day = v;
            case MONTH -> f.month = v;
            case YEAR -> f.year = f.year / 100 * 100 + v;
            default -> f.year = v * 100 + f.year % 100;
        }
        if (held == null) {
            adopt(f, reg, value); // no SET: the new time runs at once
        }
    }

    private void writeRegB(int value) {
        boolean wasHeld = (regB & B_SET) != 0;
        boolean hold = (value & B_SET) != 0;
        if (hold && !wasHeld) {
            catchUp();
            held = current();
        }
        if (hold) {
            value &= ~B_UIE; // SET clears the update-ended interrupt enable
        }
        regB = value;
        if (!hold && wasHeld) {
            Fields f = held;
            held = null;
            lastUpdateSecond = guestSecond(); // no updates were counted while SET held the clock
            adopt(f, REG_B, value);
        }
    }

    /** Makes the clock run from {@code f}; a time that is no date (Feb 30, hour 25) is logged once and ignored. */
    private void adopt(Fields f, int reg, int value) {
        try {
            offsetSeconds = f.toDateTime().toEpochSecond(ZoneOffset.UTC) - clock.instant().getEpochSecond();
            lastUpdateSecond = guestSecond(); // no burst of updates for the jump
        } catch (DateTimeException e) {
            if (!badWriteLogged) {
                badWriteLogged = true;
                LOG.log(Level.INFO, String.format("CMOS RTC: the guest set an invalid time (write of 0x%02x to register 0x%02x: %s); the clock keeps its time",
                        value, reg, e.getMessage()));
            }
        }
    }

    private long guestSecond() {
        return clock.instant().getEpochSecond() + offsetSeconds;
    }

    /** Accounts for the updates since the last call: UF for each, AF for one that matches the alarm. */
    private void catchUp() {
        if (held != null) {
            return; // SET stops updates
        }
        long now = guestSecond();
        if (now <= lastUpdateSecond) {
            return;
        }
        flags |= C_UF;
        // The alarm repeats at most daily, so a day of missed seconds is enough to look at.
        for (long s = Math.max(lastUpdateSecond + 1, now - 86_399); s <= now && (flags & C_AF) == 0; s++) {
            if (alarmMatches(LocalDateTime.ofEpochSecond(s, 0, ZoneOffset.UTC))) {
                flags |= C_AF;
            }
        }
        lastUpdateSecond = now;
    }

    private boolean alarmMatches(LocalDateTime t) {
        return alarmField(ram[SECONDS_ALARM] & 0xff, t.getSecond(), false)
                && alarmField(ram[MINUTES_ALARM] & 0xff, t.getMinute(), false)
                && alarmField(ram[HOURS_ALARM] & 0xff, t.getHour(), true);
    }

    private boolean alarmField(int alarm, int value, boolean hour) {
        if ((alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE) {
            return true;
        }
        return (hour ? decodeHour(alarm) : decode(alarm)) == value;
    }

    private boolean interruptFlag() {
        return (flags & regB & (B_PIE | B_AIE | B_UIE)) != 0;
    }

    /** Drives the line from the flags and arms the host timer for the next update that could raise it. */
    private void afterAccess() {
        catchUp();
        boolean high = interruptFlag();
        if (high != irqHigh) {
            irqHigh = high;
            irq.set(high);
        }
        boolean wanted = !closed && !high && held == null && (regB & (B_AIE | B_UIE)) != 0;
        if (wanted && pendingWakeup == null) {
            Instant next = Instant.ofEpochSecond(clock.instant().getEpochSecond() + 1);
            pendingWakeup = wakeups.at(next, this::wakeUp);
        } else if (!wanted && pendingWakeup != null) {
            pendingWakeup.cancel();
            pendingWakeup = null;
        }
    }

    private synchronized void wakeUp() {
        pendingWakeup = null;
        if (closed) {
            return;
        }
        try {
            afterAccess();
        } catch (RuntimeException e) {
            // The line is gone (the VM was closed under a running timer): stop rather than fail every second.
            closed = true;
            LOG.log(Level.WARNING, "CMOS RTC: raising the interrupt failed, the RTC timer stops: " + e.getMessage());
        }
    }

    private Fields current() {
        if (held != null) {
            return held;
        }
        return Fields.of(LocalDateTime.ofEpochSecond(clock.instant().getEpochSecond() + offsetSeconds, 0, ZoneOffset.UTC));
    }

    private boolean updateInProgress() {
        if (held != null) {
            return false; // SET stops updates
        }
        Instant t = clock.instant();
        return t.getNano() >= 1_000_000_000 - UIP_NANOS;
    }

    private int encode(int value) {
        return (regB & B_BINARY) != 0 ? value : (value / 10) << 4 | value % 10;
    }

    private int decode(int value) {
        return (regB & B_BINARY) != 0 ? value : (value >> 4) * 10 + (value & 0x0f);
    }

    private int encodeHour(int hour24) {
        if ((regB & B_24H) != 0) {
            return encode(hour24);
        }
        int hour12 = hour24 % 12 == 0 ? 12 : hour24 % 12;
        return encode(hour12) | (hour24 >= 12 ? HOUR_PM : 0);
    }

    private int decodeHour(int value) {
        if ((regB & B_24H) != 0) {
            return decode(value);
        }
        int hour12 = decode(value & ~HOUR_PM);
        return hour12 % 12 + ((value & HOUR_PM) != 0 ? 12 : 0);
    }

    private void fillMemorySize(long below4Gib, long above4Gib) {
        final long kib = 1024;
        final long mib = 1024 * kib;
        long base = Math.min(below4Gib, 640 * kib) / kib;
        setWord(0x15, base);
        long extended = Math.min(Math.max(below4Gib - mib, 0) / kib, 0xffff);
        setWord(0x17, extended);
        setWord(0x30, extended);
        long above16Mib = Math.min(Math.max(below4Gib - 16 * mib, 0) / (64 * kib), 0xffff);
        setWord(0x34, above16Mib);
        long high = Math.min(above4Gib / (64 * kib), 0xff_ffff);
        ram[0x5b] = (byte) high;
        ram[0x5c] = (byte) (high >> 8);
        ram[0x5d] = (byte) (high >> 16);
    }

    private void setWord(int at, long value) {
        ram[at] = (byte) value;
        ram[at + 1] = (byte) (value >> 8);
    }
}
