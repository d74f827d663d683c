package dev.nimbus.hypervisor.memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous piece of guest RAM: {@code size} bytes at guest physical address {@code guestAddress},
 * backed by the host mapping {@code host}. The segment's lifetime is the owning {@link GuestMemory}'s.
 */
public record GuestRegion(long guestAddress, MemorySegment host) {
    public GuestRegion {
        Objects.requireNonNull(host, "host");
        if (guestAddress < 0 || host.byteSize() == 0 || guestAddress + host.byteSize() < guestAddress) {
            throw new IllegalArgumentException(String.format("bad guest region 0x%x+0x%x", guestAddress, host.byteSize()));
        }
    }

    public long size() {
        return host.byteSize();
    }

    /** The first guest address after this region. */
    public long end() {
        return guestAddress + host.byteSize();
    }

    public boolean contains(long gpa, long length) {
        return length >= 0 && gpa >= guestAddress && gpa + length <= end() && gpa + length >= gpa;
    }
}
