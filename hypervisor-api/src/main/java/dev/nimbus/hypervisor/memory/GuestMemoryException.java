package dev.nimbus.hypervisor.memory;

/**
 * A guest physical address range is not (wholly) backed by guest RAM. This is the error value that every
 * guest-controlled address turns into when it is wrong; it never becomes a JVM crash.
 */
public final class GuestMemoryException extends Exception {
    private static final long serialVersionUID = 1L;
    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length) {
        super(String.format("guest address range 0x%x+0x%x is outside guest RAM", address, length));
        this.address = address;
        this.length = length;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }
}
