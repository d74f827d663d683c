package dev.nimbus.devices.virtio;

import dev.nimbus.devices.testing.QuietLogs;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.host.LibC;
import dev.nimbus.host.net.Tap;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz targets for virtio-net in both directions, with a non-blocking {@code SOCK_SEQPACKET} socket pair
 * in place of the tap ({@link Tap#adopt}): one end is the device's tap, the other the wire. A seqpacket
 * socket keeps frame boundaries and cuts a frame too long for the reader's buffers, as a tap does.
 *
 * <ul>
 *   <li>Transmit: the fuzzer writes the transmit queue as {@link VirtioFuzzTest#queue} does (descriptors
 *       anywhere, indirect tables, EVENT_IDX) and the device sends what it takes. Invariants: only
 *       {@link VirtQueueException}; every chain is returned with length 0 and at most the queue size of
 *       them per notification (bounded work); each frame on the wire has a header and at most
 *       {@link VirtioNet#MAX_FRAME} bytes after it; the wire got exactly what {@code tx_frames} and
 *       {@code tx_bytes} count.</li>
 *   <li>Receive: the fuzzer writes the receive queue's descriptors and available ring, sends frames from
 *       the wire, notifies, makes the tap readable and adds buffers, in any order. The buffers lie above
 *       the rings (the fuzzer's addresses are folded into [64 KiB, RAM)) and there are no indirect tables,
 *       so the rings are the device's and the driver's alone and each used entry can be checked against
 *       the chain it names. Invariants: only {@link VirtQueueException}; no used entry reports more bytes
 *       than its chain's writable buffers hold; the used lengths add up to exactly the frames the device
 *       counts as delivered, which are no more than the wire sent.</li>
 * </ul>
 */
class VirtioNetFuzzTest {
    static final long RAM = 1 << 20;
    static final long DESC = 0x000;
    static final long AVAIL = 0x100;
    static final long USED = 0x200;
    /** Where receive buffers may start: above every ring. */
    static final long BUFFERS = 0x1_0000;
    static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};


    /** Device end (a stand-in for the tap) and wire end of a socket pair. */
    record Link(Tap tap, Tap wire) implements AutoCloseable {
        static Link open() {
            int[] fds = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, "socketpair");
            return new Link(Tap.adopt(fds[0], "fuzz-tap"), Tap.adopt(fds[1], "fuzz-wire"));
        }

        @Override
        public void close() {
            tap.close();
            wire.close();
        }
    }

    @FuzzTest(maxDuration = "30s")
    void transmittedFramesReachTheWireWhole(FuzzedDataProvider data) throws Exception {
        try (QuietLogs quiet = QuietLogs.during()) {
            boolean mergeable = data.consumeBoolean();
            try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)));
                 Link link = Link.open()) {
                VirtQueue q = VirtioFuzzTest.queue(memory, data);
                if (q == null) {
                    return;
                }
                VirtioNet net = new VirtioNet(link.tap(), MAC, VirtioNet.QUEUES, 256);
                net.activate(mergeable ? 1L << VirtioNet.F_MRG_RXBUF : 0);
                int usedBefore = memory.readShort(USED + 2) & 0xffff;
                try {
                    net.process(VirtioNet.TX_QUEUE, q);
                } catch (VirtQueueException expected) {
                    // a broken ring: the device needs a reset
                }
                int returned = (memory.readShort(USED + 2) - usedBefore) & 0xffff;
                assertThat(returned).as("chains returned for one notification").isLessThanOrEqualTo(q.size());
                for (int i = 0; i < returned; i++) {
                    long entry = USED + 4 + 8L * ((usedBefore + i) % q.size());
                    assertThat(memory.readInt(entry)).as("used id").isBetween(0, q.size() - 1);
                    assertThat(memory.readInt(entry + 4)).as("used length of a transmit chain").isZero();
                }
                ByteBuffer frame = ByteBuffer.allocateDirect(VirtioNet.HEADER_SIZE + VirtioNet.MAX_FRAME + 1);
                long frames = 0;
                long bytes = 0;
                for (long n; (n = link.wire().readv(List.of(frame.clear()))) >= 0; ) {
                    assertThat(n).as("a frame on the wire").isBetween((long) VirtioNet.HEADER_SIZE,
                            (long) VirtioNet.HEADER_SIZE + VirtioNet.MAX_FRAME);
                    frames++;
                    bytes += n - VirtioNet.HEADER_SIZE;
                }
                assertThat(frames).as("frames on the wire").isEqualTo(net.counters().get("tx_frames")).isLessThanOrEqualTo(returned);
                assertThat(bytes).as("bytes on the wire").isEqualTo(net.counters().get("tx_bytes"));
            }
        }
    }

    @FuzzTest(maxDuration = "30s")
    void receivedFramesFitTheChainsTheyFill(FuzzedDataProvider data) throws Exception {
        try (QuietLogs quiet = QuietLogs.during()) {
            boolean mergeable = data.consumeBoolean();
            boolean eventIdx = data.consumeBoolean();
            int size = 1 << data.consumeInt(0, 4);
            try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)));
                 Link link = Link.open()) {
                VirtQueue q = ringsApart(memory, 0, size, eventIdx, data);
                VirtioNet net = new VirtioNet(link.tap(), MAC, VirtioNet.QUEUES, 256);
                net.activate(mergeable ? 1L << VirtioNet.F_MRG_RXBUF : 0);

                long sent = 0;
                long sentBytes = 0;
                int checkedUsed = memory.readShort(USED + 2) & 0xffff;
                long usedBytes = 0;
                boolean usedLapped = false;
                try {
                    for (int op = 0; op < 16 && data.remainingBytes() > 0; op++) {
                        switch (data.consumeInt(0, 3)) {
                            case 0 -> { // a frame from the wire: a header, then a frame of the fuzzer's length
                                ByteBuffer frame = ByteBuffer.allocateDirect(VirtioNet.HEADER_SIZE + data.consumeInt(0, VirtioNet.MAX_FRAME));
                                frame.put(data.consumeBytes(Math.min(frame.capacity(), 16))).clear();
                                if (link.wire().writev(List.of(frame)) >= 0) {
                                    sent++;
                                    sentBytes += frame.capacity();
                                }
                            }
                            case 1 -> net.process(VirtioNet.RX_QUEUE, q); // the driver notifies
                            case 2 -> { // the worker finds the tap readable, if the device asked to wait on it
                                if (net.hostFdWanted(0)) {
                                    net.hostFdReady(0, List.of(q, q));
                                }
                            }
                            default -> { // the driver makes more heads available
                                int avail = memory.readShort(AVAIL + 2) & 0xffff;
                                int more = data.consumeInt(0, size);
                                for (int i = 0; i < more; i++) {
                                    memory.writeShort(AVAIL + 4 + 2L * ((avail + i) % size), (short) data.consumeInt(0, size - 1));
                                }
                                memory.writeShort(AVAIL + 2, (short) (avail + more));
                            }
                        }
                        int used = memory.readShort(USED + 2) & 0xffff;
                        int added = (used - checkedUsed) & 0xffff;
                        if (added > size) {
                            usedLapped = true; // the ring wrapped over entries not yet read; check the newest
                        }
                        for (int i = Math.max(0, added - size); i < added; i++) {
                            long entry = USED + 4 + 8L * ((checkedUsed + i) % size);
                            int head = memory.readInt(entry);
                            long length = memory.readInt(entry + 4) & 0xffff_ffffL;
                            assertThat(head).as("used id").isBetween(0, size - 1);
                            assertThat(length).as("bytes reported in the chain at head %d", head)
                                    .isLessThanOrEqualTo(writableBytes(memory, 0, head, size));
                            usedBytes += length;
                        }
                        checkedUsed = used;
                    }
                } catch (VirtQueueException expected) {
                    return; // a broken ring: the device needs a reset, and the used ring is no longer checked
                }
                long frames = net.counters().get("rx_frames");
                long bytes = net.counters().get("rx_bytes");
                assertThat(frames).as("frames delivered").isLessThanOrEqualTo(sent);
                assertThat(bytes + VirtioNet.HEADER_SIZE * frames).as("bytes delivered").isLessThanOrEqualTo(sentBytes);
                if (!usedLapped) {
                    assertThat(usedBytes).as("used lengths against the frames delivered").isEqualTo(bytes + VirtioNet.HEADER_SIZE * frames);
                }
            }
        }
    }

    /**
     * A queue of {@code size} whose descriptor table, available ring and used ring lie at {@code base},
     * {@code base + 0x100} and {@code base + 0x200}, the first two written by the fuzzer, with every buffer
     * address folded into [{@link #BUFFERS}, RAM) and no indirect descriptors: the device's writes into
     * buffers then never touch a ring, so the used ring can be read back and each chain walked again.
     */
    static VirtQueue ringsApart(GuestMemory memory, long base, int size, boolean eventIdx, FuzzedDataProvider data) throws Exception {
        memory.write(base, data.consumeBytes((int) USED));
        for (int i = 0; i < size; i++) {
            long at = base + DESC + 16L * i;
            memory.writeLong(at, BUFFERS + Long.remainderUnsigned(memory.readLong(at), RAM - BUFFERS));
            memory.writeShort(at + 12, (short) (memory.readShort(at + 12) & ~VirtQueue.DESC_F_INDIRECT));
        }
        VirtQueue q = new VirtQueue(memory, 256);
        q.setSize(size);
        q.setDescTable(base + DESC);
        q.setAvailRing(base + AVAIL);
        q.setUsedRing(base + USED);
        q.setReady(true);
        q.activate(eventIdx, false); // rings in RAM and aligned: accepted
        return q;
    }

    /** The device-writable bytes of the chain at {@code head} of the table at {@code base}, walked again. */
    static long writableBytes(GuestMemory memory, long base, int head, int size) throws Exception {
        long total = 0;
        int index = head;
        for (int step = 0; step < size && index < size; step++) {
            long at = base + DESC + 16L * index;
            int flags = memory.readShort(at + 12) & 0xffff;
            if ((flags & VirtQueue.DESC_F_WRITE) != 0) {
                total += memory.readInt(at + 8) & 0xffff_ffffL;
            }
            if ((flags & VirtQueue.DESC_F_NEXT) == 0) {
                break;
            }
            index = memory.readShort(at + 14) & 0xffff;
        }
        return total;
    }
}
