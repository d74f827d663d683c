package dev.nimbus.devices.debug;

import dev.nimbus.devices.bus.ByteRegisterDevice;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The POST / debug port (0x80): records the progress codes a guest writes, with the time since the VM
 * started, the boot-time measure Cloud Hypervisor uses (an instrumented guest writes 0x40 when the kernel
 * starts and 0x41 when user space starts). The VMM prints {@link #records()} with {@code -v}.
 *
 * <p>Linux also writes 0 to this port as an I/O delay (without KVM's no-op I/O delay), so writes of 0 are
 * counted but not recorded, and at most {@value #MAX_RECORDS} records are kept: a guest cannot make the
 * VMM grow without bound. Reads return 0. No interrupt.
 */
public final class DebugPort extends ByteRegisterDevice {
    private static final System.Logger LOG = System.getLogger(DebugPort.class.getName());

    /** The most records kept; later codes are counted only. */
    public static final int MAX_RECORDS = 1024;

    /** One code the guest wrote and when, in nanoseconds since the VM started. */
    public record BootProgress(int code, long nanosSinceStart) {
        /** What the code means by the convention Nimbus follows. */
        public String meaning() {
            return switch (code) {
                case 0x40 -> "kernel start";
                case 0x41 -> "userspace start";
                default -> String.format("code 0x%02x", code);
            };
        }

        @Override
        public String toString() {
            return String.format("%s at %d.%06d s", meaning(), nanosSinceStart / 1_000_000_000,
                    nanosSinceStart % 1_000_000_000 / 1_000);
        }
    }

    private final LongSupplier nanoTime;
    private final long startNanos;
    private final List<BootProgress> records = new ArrayList<>();
    private long writes;

    /**
     * @param nanoTime   a monotonic clock in nanoseconds ({@code System::nanoTime})
     * @param startNanos its reading when the VM started
     */
    public DebugPort(LongSupplier nanoTime, long startNanos) {
        this.nanoTime = nanoTime;
        this.startNanos = startNanos;
    }

    /** A debug port that counts time from now on {@link System#nanoTime()}. */
    public static DebugPort startingNow() {
        return new DebugPort(System::nanoTime, System.nanoTime());
    }

    @Override
    public String name() {
        return "debug port";
    }

    @Override
    protected int readByte(int offset) {
        return 0;
    }

    @Override
    protected synchronized void writeByte(int offset, int value) {
        writes++;
        if (value == 0 || records.size() >= MAX_RECORDS) {
            return;
        }
        BootProgress p = new BootProgress(value, nanoTime.getAsLong() - startNanos);
        records.add(p);
        LOG.log(Level.DEBUG, "guest progress: {0}", p);
    }

    /** The codes recorded, in the order written. */
    public synchronized List<BootProgress> records() {
        return List.copyOf(records);
    }

    /** Every write to the port, recorded or not. */
    public synchronized long writes() {
        return writes;
    }
}
