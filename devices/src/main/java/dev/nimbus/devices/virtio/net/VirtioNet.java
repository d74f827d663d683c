package dev.nimbus.devices.virtio.net;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.devices.virtio.DescriptorChain;
import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.VirtQueueException;
import dev.nimbus.devices.virtio.VirtioDevice;
import dev.nimbus.host.SyscallException;
import dev.nimbus.host.net.Tap;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.random.RandomGenerator;

/**
 * The virtio network device (virtio 1.2, 5.1) on a Linux {@link Tap}: one receive queue (0) and one
 * transmit queue (1). Frames carry the 12-byte {@code virtio_net_hdr_v1} on both sides, which is the
 * header the tap is opened with, so nothing is translated or copied:
 *
 * <ul>
 *   <li>Transmit: each chain is a header and a frame in device-readable buffers, written to the tap with
 *       one {@code writev} gathering straight from guest memory. The chain is returned with length 0.</li>
 *   <li>Receive: when the tap has a frame and the receive queue has buffers, one {@code readv} scatters the
 *       frame straight into the writable buffers of the chains the device holds. With VIRTIO_NET_F_MRG_RXBUF
 *       a frame may fill several chains, which are returned in order with the count in the header's
 *       {@code num_buffers}; without it a frame takes one chain and {@code num_buffers} is 1. With
 *       MRG_RXBUF a frame larger than the buffers the device holds is not lost: the readv's tail lands in
 *       a host buffer, the frame is held, and it is completed (that tail copied) and returned once the
 *       driver adds buffers. A guest that runs short of buffers under load then sees no loss, where
 *       dropping the frame would leave TCP to retransmit with growing back-off. Without MRG_RXBUF a
 *       frame larger than the one chain is dropped. With no buffers, or a frame held, the device stops
 *       asking for the tap ({@link #hostFdWanted}) until the driver notifies the receive queue, so the
 *       worker does not spin.</li>
 * </ul>
 *
 * <p>Offered: MAC, STATUS (link always up), CSUM and HOST_TSO4/6 (the tap takes partially checksummed and
 * segmentation-offloaded frames), GUEST_CSUM and GUEST_TSO4/6 (passed to the tap as TUNSETOFFLOAD once
 * negotiated), MRG_RXBUF. One queue pair, no control queue.
 *
 * <p>A transmit chain with less than a header, more than 64 KiB of frame after it, or more buffers than
 * one {@code writev} takes is dropped (returned with 0), counted, and logged once; a broken chain is a
 * {@link VirtQueueException} from the queue, as for every device.
 */
public final class VirtioNet implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VirtioNet.class.getName());

    public static final int DEVICE_TYPE = 1;
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    /** The queue count with one receive/transmit pair and no control queue. */
    public static final int QUEUES = 2;

    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;

    public static final int S_LINK_UP = 1;

    /** {@code struct virtio_net_hdr_v1}; num_buffers at offset 10. */
    public static final int HEADER_SIZE = Tap.VNET_HDR_SIZE;
    private static final int NUM_BUFFERS_OFFSET = 10;
    /** The largest frame: a 64 KiB segmentation-offload packet and its Ethernet header. */
    public static final int MAX_FRAME = 65536 + 14;
    /** The most frames one wake-up moves from the tap, so transmit and the other queues get their turn. */
    private static final int RX_BATCH = 64;
    /** The most buffers one readv/writev takes (UIO_MAXIOV). */
    private static final int MAX_IOV = 1024;

    /** mac[6], status le16 (5.1.4); max_virtqueue_pairs would follow only with VIRTIO_NET_F_MQ. */
    private static final int CONFIG_SIZE = 8;

    private final Tap tap;
    private final int queueSize;
    private final byte[] mac;
    private final ByteBuffer config = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);

    private boolean mergeable;
    /** Receive chains taken from the queue and not yet filled, in order, and their writable bytes. */
    private final ArrayDeque<DescriptorChain> rxChains = new ArrayDeque<>();
    private long rxCapacity;
    /** The writable buffers of {@code rxChains}, in order. */
    private final List<ByteBuffer> rxIov = new ArrayList<>();
    /**
     * Host room after the guest's buffers in every readv, for the tail of a frame larger than those
     * buffers: with MRG_RXBUF it holds that tail until the driver adds buffers. The tap reports a frame's
     * whole length even when it had to cut it, so a count beyond the guest's buffers and this one is how a
     * frame too large for any guest shows.
     */
    private final ByteBuffer spill = ByteBuffer.allocateDirect(HEADER_SIZE + MAX_FRAME + 64);
    /** The length (header included) of the frame held for more buffers, or 0. */
    private long heldLength;
    /** Bytes of the held frame that are in the guest's buffers; the rest, from {@link #heldSpilledFrom}, in {@link #spill}. */
    private long heldPlaced;
    /** The frame offset at which {@link #spill} starts. */
    private long heldSpilledFrom;
    /** The receive queue ran dry, or a frame waits for more buffers: the tap is set aside until the driver adds some. */
    private boolean rxStalled;
    private ByteBuffer discard;
    /** What a restore gives back once the queues are active again ({@link #restored}): the heads held, the held frame. */
    private int[] restoredHeads = new int[0];
    private long[] restoredHeld;
    private byte[] restoredTail;

    private final LongAdder rxBytes = new LongAdder();
    private final LongAdder rxFrames = new LongAdder();
    private final LongAdder rxDropped = new LongAdder();
    private final LongAdder txBytes = new LongAdder();
    private final LongAdder txFrames = new LongAdder();
    private final LongAdder txDropped = new LongAdder();
    private boolean txMalformedLogged;
    private boolean txRefusedLogged;
    private boolean rxTooLargeLogged;
    private boolean rxMalformedLogged;

    /**
     * A network device on {@code tap} (the caller owns and closes it) with station address {@code mac}.
     *
     * @param numQueues the queue count asked for; only one pair ({@value #QUEUES}) is supported
     * @param queueSize the size of each queue (a power of two up to 32768)
     */
    public VirtioNet(Tap tap, byte[] mac, int numQueues, int queueSize) {
        if (numQueues != QUEUES) {
            throw new IllegalArgumentException("virtio-net: num_queues=" + numQueues + " needs multiqueue (VIRTIO_NET_F_MQ), "
                    + "which Nimbus does not offer; use num_queues=2 (one receive/transmit pair)");
        }
        if (queueSize < 1 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            throw new IllegalArgumentException("virtio-net: queue_size " + queueSize + " is not a power of two up to 32768");
        }
        if (mac.length != 6) {
            throw new IllegalArgumentException("virtio-net: a MAC address has 6 bytes, not " + mac.length);
        }
        if ((mac[0] & 1) != 0) {
            throw new IllegalArgumentException("virtio-net: " + Tap.formatMac(mac) + " is a multicast address");
        }
        this.tap = tap;
        this.queueSize = queueSize;
        this.mac = mac.clone();
        config.put(0, this.mac);
        config.putShort(6, (short) S_LINK_UP);
    }

    /** A random locally administered unicast MAC address (first byte {@code xxxxxx10}). */
    public static byte[] randomMac(RandomGenerator random) {
        byte[] mac = new byte[6];
        random.nextBytes(mac);
        mac[0] = (byte) ((mac[0] & 0xfc) | 0x02);
        return mac;
    }

    public byte[] mac() {
        return mac.clone();
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return bit(F_CSUM) | bit(F_GUEST_CSUM) | bit(F_MAC) | bit(F_GUEST_TSO4) | bit(F_GUEST_TSO6)
                | bit(F_HOST_TSO4) | bit(F_HOST_TSO6) | bit(F_MRG_RXBUF) | bit(F_STATUS);
    }

    private static long bit(int feature) {
        return 1L << feature;
    }

    @Override
    public int queueCount() {
        return QUEUES;
    }

    @Override
    public int queueMaxSize(int index) {
        return queueSize;
    }

    @Override
    public int pciClass() {
        return 0x020000; // network controller, Ethernet
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return VirtioDevice.readLittleEndian(config, offset, size);
    }

    @Override
    public void activate(long features) {
        mergeable = (features & bit(F_MRG_RXBUF)) != 0;
        int offload = 0;
        if ((features & bit(F_GUEST_CSUM)) != 0) {
            offload |= Tap.TUN_F_CSUM;
            if ((features & bit(F_GUEST_TSO4)) != 0) {
                offload |= Tap.TUN_F_TSO4;
            }
            if ((features & bit(F_GUEST_TSO6)) != 0) {
                offload |= Tap.TUN_F_TSO6;
            }
        }
        setOffload(offload);
        rxStalled = false;
        heldLength = 0;
    }

    private void setOffload(int offload) {
        try {
            tap.setOffload(offload);
        } catch (SyscallException e) {
            // The tap then hands over finished frames only, which the guest takes whatever it negotiated.
            LOG.log(Level.WARNING, "virtio-net: {0}", e.getMessage());
        }
    }

    @Override
    public void reset() {
        rxChains.clear();
        rxIov.clear();
        rxCapacity = 0;
        rxStalled = false;
        heldLength = 0;
        mergeable = false;
        setOffload(0);
    }

    @Override
    public void process(int index, VirtQueue queue) throws VirtQueueException {
        if (index == TX_QUEUE) {
            transmit(queue);
        } else if (index == RX_QUEUE) {
            rxStalled = false; // the driver added buffers: take the frames that waited for them
            receive(queue);
        }
    }

    // ---- transmit ----

    private void transmit(VirtQueue queue) throws VirtQueueException {
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            long length = chain.readableBytes();
            if (length < HEADER_SIZE || length - HEADER_SIZE > MAX_FRAME || chain.readable().size() > MAX_IOV) {
                txDropped.increment();
                if (!txMalformedLogged) {
                    txMalformedLogged = true;
                    LOG.log(Level.WARNING, "virtio-net: transmit chain at head {0} holds {1} bytes in {2} buffers "
                            + "(a {3}-byte header and at most {4} bytes of frame); dropped",
                            chain.head(), length, chain.readable().size(), HEADER_SIZE, MAX_FRAME);
                }
            } else {
                send(chain, length);
            }
            queue.addUsed(chain.head(), 0);
        }
    }

    private void send(DescriptorChain chain, long length) {
        try {
            if (tap.writev(chain.readable()) < 0) {
                txDropped.increment(); // the tap's queue is full: dropped, as a busy wire would
                return;
            }
            txFrames.increment();
            txBytes.add(length - HEADER_SIZE);
        } catch (SyscallException e) {
            txDropped.increment();
            if (!txRefusedLogged) {
                txRefusedLogged = true;
                LOG.log(Level.WARNING, "virtio-net: the tap refused a frame from the guest ({0}); dropped", e.getMessage());
            }
        }
    }

    // ---- receive ----

    @Override
    public int[] hostFds() {
        return new int[] {tap.fd()};
    }

    @Override
    public void hostFdReady(int index, List<VirtQueue> queues) throws VirtQueueException {
        receive(queues.get(RX_QUEUE));
    }

    @Override
    public void hostFdIdle(int index) {
        // No driver to hand frames to: take them off the tap, as a card without a driver drops them.
        if (discard == null) {
            discard = ByteBuffer.allocateDirect(HEADER_SIZE + MAX_FRAME);
        }
        for (int i = 0; i < RX_BATCH; i++) {
            if (tap.readv(List.of(discard.clear())) < 0) {
                return;
            }
            rxDropped.increment();
        }
    }

    @Override
    public boolean hostFdWanted(int index) {
        return !rxStalled && heldLength == 0;
    }

    private void receive(VirtQueue queue) throws VirtQueueException {
        for (int frames = 0; frames < RX_BATCH; frames++) {
            if (heldLength > 0) {
                if (!completeHeld(queue)) {
                    rxStalled = true;
                    return;
                }
                continue;
            }
            takeBuffers(queue, HEADER_SIZE + MAX_FRAME);
            if (rxChains.isEmpty()) {
                rxStalled = true;
                return;
            }
            rxIov.add(spill.clear());
            long n;
            try {
                n = tap.readv(rxIov);
            } finally {
                rxIov.removeLast();
            }
            if (n < 0) {
                return; // nothing waiting; the chains stay with the device for the next frame
            }
            if (n > rxCapacity) {
                if (mergeable && n <= rxCapacity + spill.capacity()) {
                    // The frame's tail is in the spill buffer: hold it until the driver adds buffers.
                    heldLength = n;
                    heldPlaced = rxCapacity;
                    heldSpilledFrom = rxCapacity;
                    continue;
                }
                rxDropped.increment();
                if (!rxTooLargeLogged) {
                    rxTooLargeLogged = true;
                    LOG.log(Level.WARNING, "virtio-net: a {0}-byte frame is larger than the {1} bytes of receive buffers "
                            + "the guest offered; dropped", n - HEADER_SIZE, rxCapacity - HEADER_SIZE);
                }
                continue; // the buffers were written but not returned: they take the next frame
            }
            deliver(queue, n);
        }
    }

    /**
     * Takes more buffers for the held frame, copies the part of its tail they cover out of the spill
     * buffer, and returns the frame once all of it is in the guest's buffers; false while it still waits.
     */
    private boolean completeHeld(VirtQueue queue) throws VirtQueueException {
        takeBuffers(queue, heldLength);
        long start = 0;
        for (ByteBuffer b : rxIov) {
            long end = start + b.remaining();
            if (end > heldPlaced && start < heldLength) {
                long from = Math.max(start, heldPlaced);
                long to = Math.min(end, heldLength);
                b.put(b.position() + (int) (from - start), spill, (int) (from - heldSpilledFrom), (int) (to - from));
                heldPlaced = to;
            }
            start = end;
        }
        if (heldPlaced < heldLength) {
            return false;
        }
        long n = heldLength;
        heldLength = 0;
        deliver(queue, n);
        return true;
    }

    /**
     * Takes chains from the receive queue until the device holds {@code wanted} bytes of room (one chain
     * without MRG_RXBUF), their writable buffers laid out in {@code rxIov} for the next readv.
     */
    private void takeBuffers(VirtQueue queue, long wanted) throws VirtQueueException {
        int limit = mergeable ? MAX_IOV : 1;
        while (rxCapacity < wanted && rxChains.size() < limit) {
            DescriptorChain chain = queue.pop();
            if (chain == null) {
                break;
            }
            if (chain.writableBytes() < HEADER_SIZE || !chain.readable().isEmpty()
                    || rxIov.size() + chain.writable().size() > MAX_IOV - 1) {
                if (!rxMalformedLogged) {
                    rxMalformedLogged = true;
                    LOG.log(Level.WARNING, "virtio-net: receive chain at head {0} has {1} writable bytes in {2} buffers "
                            + "and {3} readable ones (at least a {4}-byte header, device-writable only); returned unused",
                            chain.head(), chain.writableBytes(), chain.writable().size(), chain.readable().size(), HEADER_SIZE);
                }
                queue.addUsed(chain.head(), 0);
                continue;
            }
            rxChains.addLast(chain);
            rxCapacity += chain.writableBytes();
            rxIov.addAll(chain.writable());
        }
    }

    /** Returns the chains the {@code n}-byte frame (header included) filled, with num_buffers set. */
    private void deliver(VirtQueue queue, long n) throws VirtQueueException {
        int count = 0;
        long covered = 0;
        for (DescriptorChain c : rxChains) {
            count++;
            covered += c.writableBytes();
            if (covered >= n) {
                break;
            }
        }
        // The tap writes the first 10 bytes of the header and skips num_buffers: it is the device's to set.
        putLe16(rxChains.peekFirst().writable(), NUM_BUFFERS_OFFSET, count);
        long left = n;
        for (int i = 0; i < count; i++) {
            DescriptorChain c = rxChains.removeFirst();
            long written = Math.min(left, c.writableBytes());
            left -= written;
            rxCapacity -= c.writableBytes();
            queue.addUsed(c.head(), (int) written);
        }
        rxIov.clear();
        for (DescriptorChain c : rxChains) {
            rxIov.addAll(c.writable());
        }
        rxFrames.increment();
        rxBytes.add(n - HEADER_SIZE);
    }

    private static void putLe16(List<ByteBuffer> buffers, int offset, int value) {
        int skip = offset;
        int i = 0;
        for (ByteBuffer b : buffers) {
            for (int at = b.position(); at < b.limit() && i < 2; at++) {
                if (skip > 0) {
                    skip--;
                } else {
                    b.put(at, (byte) (value >>> (8 * i++)));
                }
            }
        }
    }

    @Override
    public String stateId() {
        return "virtio-net";
    }

    /**
     * Version 1: the MAC (6 bytes, which a restore adopts: a random one must stay the guest's), the receive
     * chains the device holds (a u16 count, then each head as u16, in the order taken), and the frame held for
     * more buffers: its length, the bytes of it in the guest's buffers and the frame offset where the host
     * buffer starts (u32 each, all 0 for none), then the part of it not yet in the guest's buffers. The tap
     * and its offloads are the host's (set again from the features at activation).
     */
    @Override
    public DeviceState saveState() {
        StateWriter w = new StateWriter().bytes(mac).u16(rxChains.size());
        rxChains.forEach(c -> w.u16(c.head()));
        w.u32((int) heldLength).u32((int) heldPlaced).u32((int) heldSpilledFrom);
        if (heldLength > 0) {
            byte[] tail = new byte[(int) (heldLength - heldPlaced)];
            spill.get((int) (heldPlaced - heldSpilledFrom), tail);
            w.bytes(tail);
        }
        return w.done(stateId(), 1);
    }

    @Override
    public void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, stateId(), 1);
        byte[] newMac = r.bytes("MAC", 6);
        r.check((newMac[0] & 1) == 0, "MAC", Tap.formatMac(newMac) + " is a multicast address");
        int count = r.in("receive chains held", 2, 0, Math.min(queueSize, MAX_IOV));
        int[] heads = new int[count];
        for (int i = 0; i < count; i++) {
            heads[i] = r.in("receive head held", 2, 0, queueSize - 1);
        }
        long length = Integer.toUnsignedLong(r.u32("held frame length"));
        long placed = Integer.toUnsignedLong(r.u32("held frame placed"));
        long spilledFrom = Integer.toUnsignedLong(r.u32("held frame spilled from"));
        r.check(length == 0 ? placed == 0 && spilledFrom == 0
                : spilledFrom <= placed && placed < length && length - spilledFrom <= spill.capacity() && count > 0,
                "held frame", "of " + length + " bytes (" + placed + " placed, host buffer from " + spilledFrom + ") is not one the device can hold");
        byte[] tail = r.bytes("held frame tail", (int) (length - placed));
        r.end();
        System.arraycopy(newMac, 0, mac, 0, 6);
        config.put(0, mac);
        restoredHeads = heads;
        restoredHeld = length == 0 ? null : new long[] {length, placed, spilledFrom};
        restoredTail = tail;
    }

    /** Takes back the receive chains it held, in order, and the frame that waited for more buffers. */
    @Override
    public void restored(List<VirtQueue> queues) throws VirtQueueException {
        VirtQueue rx = queues.get(RX_QUEUE);
        int[] heads = restoredHeads;
        long[] held = restoredHeld;
        restoredHeads = new int[0];
        restoredHeld = null;
        for (int head : heads) {
            DescriptorChain chain = rx.reclaim(head);
            rxChains.addLast(chain);
            rxCapacity += chain.writableBytes();
            rxIov.addAll(chain.writable());
        }
        if (held != null) {
            if (!mergeable || held[1] > rxCapacity) {
                throw new VirtQueueException("the saved frame held for more buffers does not fit what the device holds");
            }
            heldLength = held[0];
            heldPlaced = held[1];
            heldSpilledFrom = held[2];
            spill.put((int) (heldPlaced - heldSpilledFrom), restoredTail);
            rxStalled = true; // waits for the driver's next buffers
        }
        restoredTail = null;
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> c = new LinkedHashMap<>();
        c.put("rx_bytes", rxBytes.sum());
        c.put("rx_frames", rxFrames.sum());
        c.put("rx_dropped", rxDropped.sum());
        c.put("tx_bytes", txBytes.sum());
        c.put("tx_frames", txFrames.sum());
        c.put("tx_dropped", txDropped.sum());
        return c;
    }

    @Override
    public String name() {
        return "virtio-net";
    }
}
