package dev.nimbus.devices.bus;

/**
 * A device whose registers are all one byte wide, as on the ISA bus: an access wider than a byte is split
 * into byte accesses at consecutive offsets, lowest first, and the bytes are put together little-endian.
 * (A guest's {@code inw} from a UART's data port reads RBR and then IER, as it would on a PC.) Subclasses
 * see only byte accesses, at offsets inside their range.
 */
public abstract class ByteRegisterDevice implements BusDevice {
    /** The byte at register {@code offset} (0-255). */
    protected abstract int readByte(int offset);

    /** The guest wrote {@code value} (0-255) to register {@code offset}. */
    protected abstract void writeByte(int offset, int value);

    @Override
    public long read(long offset, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (long) (readByte((int) offset + i) & 0xff) << (8 * i);
        }
        return value;
    }

    @Override
    public void write(long offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            writeByte((int) offset + i, (int) (value >>> (8 * i)) & 0xff);
        }
    }
}
