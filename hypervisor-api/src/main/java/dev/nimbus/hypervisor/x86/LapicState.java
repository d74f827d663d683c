package dev.nimbus.hypervisor.x86;

/** The local APIC's 1 KiB register page as the hypervisor saves it (registers at their xAPIC MMIO offsets). */
public record LapicState(byte[] registers) {
    public static final int SIZE = 1024;

    public LapicState {
        if (registers.length != SIZE) {
            throw new IllegalArgumentException("LAPIC state is 1024 bytes, not " + registers.length);
        }
        registers = registers.clone();
    }

    @Override
    public byte[] registers() {
        return registers.clone();
    }

    /** The 32-bit register at byte offset {@code offset} (little-endian). */
    public int register(int offset) {
        return (registers[offset] & 0xff) | (registers[offset + 1] & 0xff) << 8
                | (registers[offset + 2] & 0xff) << 16 | (registers[offset + 3] & 0xff) << 24;
    }

    /** A copy with the 32-bit register at {@code offset} set to {@code value}. */
    public LapicState withRegister(int offset, int value) {
        byte[] r = registers.clone();
        r[offset] = (byte) value;
        r[offset + 1] = (byte) (value >>> 8);
        r[offset + 2] = (byte) (value >>> 16);
        r[offset + 3] = (byte) (value >>> 24);
        return new LapicState(r);
    }
}
