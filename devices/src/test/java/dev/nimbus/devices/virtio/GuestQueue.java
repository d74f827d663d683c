package dev.nimbus.devices.virtio;

import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

/**
 * The driver's side of one split virtqueue (virtio 1.2, 2.7), written into guest memory the way a guest
 * driver would: descriptors (addr le64, len le32, flags le16, next le16), the driver area (flags, idx,
 * ring[size], used_event) and the device area (flags, idx, ring[size] of {id le32, len le32}, avail_event).
 */
final class GuestQueue {
    final GuestMemory memory;
    final int size;
    final long desc;
    final long avail;
    final long used;
    private short availIdx;

    GuestQueue(GuestMemory memory, int size, long desc, long avail, long used) {
        this.memory = memory;
        this.size = size;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
    }

    void descriptor(int index, long addr, int len, int flags, int next) throws GuestMemoryException {
        descriptorAt(desc, index, addr, len, flags, next);
    }

    void descriptorAt(long table, int index, long addr, int len, int flags, int next) throws GuestMemoryException {
        long at = table + 16L * index;
        memory.writeLong(at, addr);
        memory.writeInt(at + 8, len);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    /** Makes the chain at {@code head} available and publishes the new index. */
    void offer(int head) throws GuestMemoryException {
        memory.writeShort(avail + 4 + 2L * ((availIdx & 0xffff) % size), (short) head);
        availIdx++;
        memory.writeShort(avail + 2, availIdx);
    }

    /** Publishes an available index without filling the ring (for a driver that misbehaves). */
    void setAvailIdx(int idx) throws GuestMemoryException {
        availIdx = (short) idx;
        memory.writeShort(avail + 2, availIdx);
    }

    void setAvailFlags(int flags) throws GuestMemoryException {
        memory.writeShort(avail, (short) flags);
    }

    void setUsedEvent(int idx) throws GuestMemoryException {
        memory.writeShort(avail + 4 + 2L * size, (short) idx);
    }

    int availEvent() throws GuestMemoryException {
        return memory.readShort(used + 4 + 8L * size) & 0xffff;
    }

    int usedIdx() throws GuestMemoryException {
        return memory.readShort(used + 2) & 0xffff;
    }

    int usedId(int i) throws GuestMemoryException {
        return memory.readInt(used + 4 + 8L * (i % size));
    }

    int usedLen(int i) throws GuestMemoryException {
        return memory.readInt(used + 4 + 8L * (i % size) + 4);
    }
}
