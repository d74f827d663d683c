package dev.nimbus.devices.virtio.net;

import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.VirtQueueException;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.host.net.Tap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_NEXT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * virtio-net (virtio 1.2, 5.1) against a real tap in a network namespace of the test's own, with a raw
 * packet socket on the tap's interface as the far end. The guest's side is written into a 4 MiB
 * guest-memory fixture as a driver would: receive queue 0, transmit queue 1, each chain a 12-byte
 * {@code virtio_net_hdr_v1} and a frame.
 */
class VirtioNetTest {
    static final long RX_DESC = 0x1_0000;
    static final long RX_AVAIL = 0x2_0000;
    static final long RX_USED = 0x3_0000;
    static final long TX_DESC = 0x4_0000;
    static final long TX_AVAIL = 0x5_0000;
    static final long TX_USED = 0x6_0000;
    static final long RX_BUFFERS = 0x10_0000;
    static final long TX_BUFFERS = 0x20_0000;
    static final int QUEUE = 16;
    /** IEEE 802 local experimental EtherType: only the test's frames carry it. */
    static final int ETHERTYPE = 0x88b5;
    static final byte[] GUEST_MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
    final VirtQueue rx = new VirtQueue(memory, 256);
    final VirtQueue tx = new VirtQueue(memory, 256);
    final Ring rxRing = new Ring(memory, RX_DESC, RX_AVAIL, RX_USED);
    final Ring txRing = new Ring(memory, TX_DESC, TX_AVAIL, TX_USED);
    NetNamespace ns;
    Tap tap;
    PacketSocket wire;
    byte[] hostMac;
    VirtioNet net;

    @BeforeEach
    void setUp() throws Exception {
        ns = NetNamespace.create();
        tap = ns.call(() -> Tap.open("nimbus%d"));
        int index = ns.call(() -> {
            tap.setAddress((Inet4Address) InetAddress.getByName("10.77.0.1"), (Inet4Address) InetAddress.getByName("255.255.255.0"));
            tap.up();
            return tap.index();
        });
        hostMac = ns.call(tap::hardwareAddress);
        wire = ns.call(() -> {
            try {
                return PacketSocket.open(index, ETHERTYPE);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        });
        net = new VirtioNet(tap, GUEST_MAC, 2, 256);
        for (VirtQueue q : List.of(rx, tx)) {
            q.setSize(QUEUE);
        }
        rx.setDescTable(RX_DESC);
        rx.setAvailRing(RX_AVAIL);
        rx.setUsedRing(RX_USED);
        tx.setDescTable(TX_DESC);
        tx.setAvailRing(TX_AVAIL);
        tx.setUsedRing(TX_USED);
        rx.setReady(true);
        tx.setReady(true);
        rx.activate(false, false);
        tx.activate(false, false);
    }

    @AfterEach
    void tearDown() {
        if (wire != null) {
            wire.close();
        }
        if (tap != null) {
            tap.close();
        }
        if (ns != null) {
            ns.close();
        }
        memory.close();
    }

    void negotiate(int... features) {
        long f = 1L << 32;
        for (int b : features) {
            f |= 1L << b;
        }
        net.activate(f);
    }

    /** An Ethernet frame of {@code length} bytes from the guest to the tap's MAC, with a counting payload. */
    byte[] frame(byte[] dst, byte[] src, int length, int seed) {
        byte[] f = new byte[length];
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = (byte) (ETHERTYPE >> 8);
        f[13] = (byte) ETHERTYPE;
        for (int i = 14; i < length; i++) {
            f[i] = (byte) (i * 7 + seed);
        }
        return f;
    }

    /** Lets the device take what the tap has until {@code done} holds (the frame is in the tap at once, but not by contract). */
    void receiveUntil(java.util.function.BooleanSupplier done) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!done.getAsBoolean()) {
            assertThat(System.nanoTime()).as("frame reached the guest in time").isLessThan(deadline);
            net.hostFdReady(0, List.of(rx, tx));
            Thread.sleep(1);
        }
    }

    byte[] guestBytes(long gpa, int length) throws Exception {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = memory.readByte(gpa + i);
        }
        return b;
    }

    // ---- configuration ----

    @Test
    void configurationSpaceHoldsTheMacAndLinkUp() {
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte) net.readConfig(i, 1);
        }
        assertThat(mac).isEqualTo(GUEST_MAC);
        assertThat(net.readConfig(0, 4)).isEqualTo(0x12005452L);
        assertThat(net.readConfig(6, 2)).isEqualTo(VirtioNet.S_LINK_UP);
        assertThat(net.configSize()).isEqualTo(8);
    }

    @Test
    void offersOneQueuePairWithMacStatusOffloadsAndMergeableBuffers() {
        assertThat(net.deviceType()).isEqualTo(1);
        assertThat(net.queueCount()).isEqualTo(2);
        long f = net.deviceFeatures();
        for (int b : new int[] {0, 1, 5, 7, 8, 11, 12, 15, 16}) {
            assertThat(f & (1L << b)).as("feature bit %d", b).isNotZero();
        }
        assertThat(f & (1L << 22)).as("no VIRTIO_NET_F_MQ").isZero();
        assertThat(f & (1L << 17)).as("no control queue").isZero();
    }

    @Test
    void moreThanOneQueuePairIsRefusedAtConstruction() {
        assertThatThrownBy(() -> new VirtioNet(tap, GUEST_MAC, 4, 256)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("num_queues=4").hasMessageContaining("multiqueue");
    }

    @Test
    void multicastMacIsRefused() {
        assertThatThrownBy(() -> new VirtioNet(tap, new byte[] {1, 0, 0x5e, 0, 0, 1}, 2, 256))
                .hasMessageContaining("multicast");
    }

    @Test
    void randomMacIsLocallyAdministeredUnicast() {
        byte[] mac = VirtioNet.randomMac(new java.util.Random(7));
        assertThat(mac).hasSize(6);
        assertThat(mac[0] & 0x03).isEqualTo(0x02);
    }

    // ---- transmit ----

    @Test
    void frameTheGuestTransmitsArrivesOnTheTapByteForByte() throws Throwable {
        negotiate();
        byte[] f = frame(hostMac, GUEST_MAC, 300, 1);
        // header in one descriptor, the frame split over two more, as Linux's xmit_skb may lay it out
        memory.write(TX_BUFFERS, new byte[12]);
        memory.write(TX_BUFFERS + 0x1000, Arrays.copyOfRange(f, 0, 100));
        memory.write(TX_BUFFERS + 0x2000, Arrays.copyOfRange(f, 100, 300));
        txRing.descriptor(0, TX_BUFFERS, 12, DESC_F_NEXT, 1);
        txRing.descriptor(1, TX_BUFFERS + 0x1000, 100, DESC_F_NEXT, 2);
        txRing.descriptor(2, TX_BUFFERS + 0x2000, 200, 0, 0);
        txRing.offer(0);

        net.process(VirtioNet.TX_QUEUE, tx);

        assertThat(wire.receive(5000)).isEqualTo(f);
        assertThat(txRing.usedIdx()).isEqualTo(1);
        assertThat(txRing.usedId(0)).isEqualTo(0);
        assertThat(txRing.usedLen(0)).isZero();
        assertThat(net.counters()).containsEntry("tx_frames", 1L).containsEntry("tx_bytes", 300L).containsEntry("tx_dropped", 0L);
    }

    @Test
    void transmitChainShorterThanTheHeaderIsDroppedAndTheNextFrameStillGoes() throws Throwable {
        negotiate();
        txRing.descriptor(0, TX_BUFFERS, 8, 0, 0);
        txRing.offer(0);
        byte[] f = frame(hostMac, GUEST_MAC, 64, 2);
        memory.write(TX_BUFFERS + 0x1000, new byte[12]);
        memory.write(TX_BUFFERS + 0x1000 + 12, f);
        txRing.descriptor(1, TX_BUFFERS + 0x1000, 12 + f.length, 0, 0);
        txRing.offer(1);

        net.process(VirtioNet.TX_QUEUE, tx);

        assertThat(txRing.usedIdx()).isEqualTo(2);
        assertThat(txRing.usedLen(0)).isZero();
        assertThat(wire.receive(5000)).isEqualTo(f);
        assertThat(wire.receive(200)).as("nothing else on the wire").isNull();
        assertThat(net.counters()).containsEntry("tx_dropped", 1L).containsEntry("tx_frames", 1L);
    }

    @Test
    void transmitFrameLargerThan64KibIsDropped() throws Throwable {
        negotiate();
        int frameLength = VirtioNet.MAX_FRAME + 1;
        txRing.descriptor(0, TX_BUFFERS, 12 + frameLength, 0, 0);
        txRing.offer(0);

        net.process(VirtioNet.TX_QUEUE, tx);

        assertThat(txRing.usedIdx()).isEqualTo(1);
        assertThat(txRing.usedLen(0)).isZero();
        assertThat(wire.receive(200)).isNull();
        assertThat(net.counters()).containsEntry("tx_dropped", 1L).containsEntry("tx_frames", 0L);
    }

    @Test
    void transmitHeaderTheKernelRejectsIsDroppedNotFatal() throws Throwable {
        negotiate();
        // gso_type 0x42 is no segmentation type: tun refuses the frame (EINVAL)
        byte[] header = {0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        byte[] f = frame(hostMac, GUEST_MAC, 64, 3);
        memory.write(TX_BUFFERS, header);
        memory.write(TX_BUFFERS + 12, f);
        txRing.descriptor(0, TX_BUFFERS, 12 + f.length, 0, 0);
        txRing.offer(0);

        net.process(VirtioNet.TX_QUEUE, tx);

        assertThat(txRing.usedIdx()).isEqualTo(1);
        assertThat(wire.receive(200)).isNull();
        assertThat(net.counters()).containsEntry("tx_dropped", 1L);
    }

    @Test
    void transmitChainOutsideGuestRamBreaksTheQueue() throws Exception {
        negotiate();
        txRing.descriptor(0, 0xff_0000_0000L, 64, 0, 0);
        txRing.offer(0);

        assertThatThrownBy(() -> net.process(VirtioNet.TX_QUEUE, tx)).isInstanceOf(VirtQueueException.class)
                .hasMessageContaining("not in guest RAM");
    }

    // ---- receive ----

    @Test
    void frameWrittenIntoTheTapLandsInOneReceiveBufferWithItsHeader() throws Throwable {
        negotiate();
        memory.write(RX_BUFFERS, filled(2048, (byte) 0xee));
        rxRing.descriptor(0, RX_BUFFERS, 2048, DESC_F_WRITE, 0);
        rxRing.offer(0);
        byte[] f = frame(GUEST_MAC, hostMac, 200, 4);

        wire.send(f);
        receiveUntil(() -> rxRing.usedIdx() == 1);

        assertThat(rxRing.usedId(0)).isZero();
        assertThat(rxRing.usedLen(0)).isEqualTo(12 + 200);
        byte[] header = guestBytes(RX_BUFFERS, 12);
        assertThat(header[1]).as("gso_type NONE").isZero();
        assertThat(header[10] & 0xff | (header[11] & 0xff) << 8).as("num_buffers").isEqualTo(1);
        assertThat(guestBytes(RX_BUFFERS + 12, 200)).isEqualTo(f);
        assertThat(net.counters()).containsEntry("rx_frames", 1L).containsEntry("rx_bytes", 200L);
    }

    @Test
    void frameSpanningSeveralBuffersIsMergedWithNumBuffers() throws Throwable {
        negotiate(VirtioNet.F_MRG_RXBUF);
        for (int i = 0; i < 4; i++) {
            memory.write(RX_BUFFERS + 0x1000L * i, filled(256, (byte) 0xee));
            rxRing.descriptor(i, RX_BUFFERS + 0x1000L * i, 256, DESC_F_WRITE, 0);
            rxRing.offer(i);
        }
        byte[] f = frame(GUEST_MAC, hostMac, 600, 5);

        wire.send(f);
        receiveUntil(() -> rxRing.usedIdx() == 3);

        assertThat(new int[] {rxRing.usedId(0), rxRing.usedId(1), rxRing.usedId(2)}).containsExactly(0, 1, 2);
        assertThat(new int[] {rxRing.usedLen(0), rxRing.usedLen(1), rxRing.usedLen(2)}).containsExactly(256, 256, 612 - 512);
        byte[] header = guestBytes(RX_BUFFERS, 12);
        assertThat(header[10] & 0xff | (header[11] & 0xff) << 8).as("num_buffers").isEqualTo(3);
        byte[] got = new byte[600];
        System.arraycopy(guestBytes(RX_BUFFERS + 12, 244), 0, got, 0, 244);
        System.arraycopy(guestBytes(RX_BUFFERS + 0x1000, 256), 0, got, 244, 256);
        System.arraycopy(guestBytes(RX_BUFFERS + 0x2000, 100), 0, got, 500, 100);
        assertThat(got).isEqualTo(f);

        // the fourth buffer, still held by the device, takes the next frame
        byte[] small = frame(GUEST_MAC, hostMac, 60, 6);
        wire.send(small);
        receiveUntil(() -> rxRing.usedIdx() == 4);
        assertThat(rxRing.usedId(3)).isEqualTo(3);
        assertThat(rxRing.usedLen(3)).isEqualTo(72);
        assertThat(guestBytes(RX_BUFFERS + 0x3000 + 12, 60)).isEqualTo(small);
        assertThat(net.counters()).containsEntry("rx_frames", 2L).containsEntry("rx_bytes", 660L);
    }

    @Test
    void withoutMergeableBuffersAFrameLargerThanTheChainIsDroppedAndTheChainReused() throws Throwable {
        negotiate();
        rxRing.descriptor(0, RX_BUFFERS, 256, DESC_F_WRITE, 0);
        rxRing.offer(0);

        wire.send(frame(GUEST_MAC, hostMac, 600, 7));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (net.counters().get("rx_dropped") == 0) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            net.hostFdReady(0, List.of(rx, tx));
        }
        assertThat(rxRing.usedIdx()).isZero();

        byte[] small = frame(GUEST_MAC, hostMac, 100, 8);
        wire.send(small);
        receiveUntil(() -> rxRing.usedIdx() == 1);
        assertThat(rxRing.usedLen(0)).isEqualTo(112);
        assertThat(guestBytes(RX_BUFFERS + 12, 100)).isEqualTo(small);
    }

    @Test
    void frameExactlyFillingTheChainIsDeliveredWhole() throws Throwable {
        negotiate();
        rxRing.descriptor(0, RX_BUFFERS, 12 + 100, DESC_F_WRITE, 0);
        rxRing.offer(0);
        byte[] f = frame(GUEST_MAC, hostMac, 100, 12);

        wire.send(f);
        receiveUntil(() -> rxRing.usedIdx() == 1);

        assertThat(rxRing.usedLen(0)).isEqualTo(112);
        assertThat(guestBytes(RX_BUFFERS + 12, 100)).isEqualTo(f);
        assertThat(net.counters()).containsEntry("rx_dropped", 0L);
    }

    @Test
    void withNoReceiveBuffersTheTapIsSetAsideUntilTheDriverAddsSome() throws Throwable {
        negotiate(VirtioNet.F_MRG_RXBUF);
        byte[] f = frame(GUEST_MAC, hostMac, 120, 9);
        wire.send(f);
        Thread.sleep(50);

        net.hostFdReady(0, List.of(rx, tx));
        assertThat(net.hostFdWanted(0)).as("nothing to fill: stop waiting on the tap").isFalse();

        rxRing.descriptor(0, RX_BUFFERS, 2048, DESC_F_WRITE, 0);
        rxRing.offer(0);
        rxRing.descriptor(1, RX_BUFFERS + 0x1000, 2048, DESC_F_WRITE, 0);
        rxRing.offer(1);
        net.process(VirtioNet.RX_QUEUE, rx); // the driver's notification

        assertThat(rxRing.usedIdx()).isEqualTo(1);
        assertThat(guestBytes(RX_BUFFERS + 12, 120)).isEqualTo(f);
        assertThat(net.hostFdWanted(0)).as("a buffer in hand: wait on the tap again").isTrue();
    }

    @Test
    void withMergeableBuffersAFrameLargerThanTheBuffersInHandWaitsForMoreInsteadOfBeingDropped() throws Throwable {
        negotiate(VirtioNet.F_MRG_RXBUF);
        for (int i = 0; i < 2; i++) {
            memory.write(RX_BUFFERS + 0x1000L * i, filled(256, (byte) 0xee));
            rxRing.descriptor(i, RX_BUFFERS + 0x1000L * i, 256, DESC_F_WRITE, 0);
            rxRing.offer(i);
        }
        byte[] f = frame(GUEST_MAC, hostMac, 900, 13);
        wire.send(f);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (net.hostFdWanted(0)) {
            assertThat(System.nanoTime()).as("the device took the frame off the tap").isLessThan(deadline);
            net.hostFdReady(0, List.of(rx, tx));
            Thread.sleep(1);
        }
        assertThat(rxRing.usedIdx()).as("512 bytes of buffers cannot hold a 912-byte frame: nothing returned yet").isZero();
        assertThat(net.counters()).containsEntry("rx_dropped", 0L);

        // the driver refills, one buffer at a time, as a guest short of memory might
        memory.write(RX_BUFFERS + 0x2000, filled(256, (byte) 0xee));
        rxRing.descriptor(2, RX_BUFFERS + 0x2000, 256, DESC_F_WRITE, 0);
        rxRing.offer(2);
        net.process(VirtioNet.RX_QUEUE, rx);
        assertThat(rxRing.usedIdx()).as("768 bytes: still short").isZero();
        assertThat(net.hostFdWanted(0)).as("the tap waits while a frame is held").isFalse();
        for (int i = 3; i < 5; i++) {
            memory.write(RX_BUFFERS + 0x1000L * i, filled(256, (byte) 0xee));
            rxRing.descriptor(i, RX_BUFFERS + 0x1000L * i, 256, DESC_F_WRITE, 0);
            rxRing.offer(i);
        }
        net.process(VirtioNet.RX_QUEUE, rx);

        assertThat(rxRing.usedIdx()).isEqualTo(4);
        assertThat(new int[] {rxRing.usedId(0), rxRing.usedId(1), rxRing.usedId(2), rxRing.usedId(3)}).containsExactly(0, 1, 2, 3);
        assertThat(new int[] {rxRing.usedLen(0), rxRing.usedLen(1), rxRing.usedLen(2), rxRing.usedLen(3)})
                .containsExactly(256, 256, 256, 912 - 768);
        byte[] header = guestBytes(RX_BUFFERS, 12);
        assertThat(header[10] & 0xff | (header[11] & 0xff) << 8).as("num_buffers").isEqualTo(4);
        byte[] got = new byte[900];
        System.arraycopy(guestBytes(RX_BUFFERS + 12, 244), 0, got, 0, 244);
        System.arraycopy(guestBytes(RX_BUFFERS + 0x1000, 256), 0, got, 244, 256);
        System.arraycopy(guestBytes(RX_BUFFERS + 0x2000, 256), 0, got, 500, 256);
        System.arraycopy(guestBytes(RX_BUFFERS + 0x3000, 144), 0, got, 756, 144);
        assertThat(got).isEqualTo(f);
        assertThat(guestBytes(RX_BUFFERS + 0x3000 + 144, 4)).as("nothing written past the frame").containsOnly((byte) 0xee);
        assertThat(net.counters()).containsEntry("rx_frames", 1L).containsEntry("rx_bytes", 900L).containsEntry("rx_dropped", 0L);
        assertThat(net.hostFdWanted(0)).as("the fifth buffer in hand: the tap is watched again").isTrue();

        // the buffer left over takes the next frame
        byte[] small = frame(GUEST_MAC, hostMac, 60, 14);
        wire.send(small);
        receiveUntil(() -> rxRing.usedIdx() == 5);
        assertThat(rxRing.usedId(4)).isEqualTo(4);
        assertThat(guestBytes(RX_BUFFERS + 0x4000 + 12, 60)).isEqualTo(small);
    }

    @Test
    void aHeldFrameIsForgottenAtReset() throws Throwable {
        negotiate(VirtioNet.F_MRG_RXBUF);
        rxRing.descriptor(0, RX_BUFFERS, 256, DESC_F_WRITE, 0);
        rxRing.offer(0);
        wire.send(frame(GUEST_MAC, hostMac, 900, 15));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (net.hostFdWanted(0)) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            net.hostFdReady(0, List.of(rx, tx));
            Thread.sleep(1);
        }
        net.reset();
        assertThat(net.hostFdWanted(0)).isTrue();
    }

    @Test
    void receiveChainWithoutRoomForTheHeaderIsReturnedUnused() throws Throwable {
        negotiate(VirtioNet.F_MRG_RXBUF);
        rxRing.descriptor(0, RX_BUFFERS, 8, DESC_F_WRITE, 0);
        rxRing.offer(0);
        rxRing.descriptor(1, RX_BUFFERS + 0x1000, 2048, DESC_F_WRITE, 0);
        rxRing.offer(1);
        byte[] f = frame(GUEST_MAC, hostMac, 80, 10);

        wire.send(f);
        receiveUntil(() -> rxRing.usedIdx() == 2);

        assertThat(rxRing.usedId(0)).isZero();
        assertThat(rxRing.usedLen(0)).isZero();
        assertThat(rxRing.usedId(1)).isEqualTo(1);
        assertThat(guestBytes(RX_BUFFERS + 0x1000 + 12, 80)).isEqualTo(f);
    }

    @Test
    void framesArrivingBeforeTheDriverIsReadyAreDropped() throws Throwable {
        wire.send(frame(GUEST_MAC, hostMac, 90, 11));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (net.counters().get("rx_dropped") == 0) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            net.hostFdIdle(0);
        }
        assertThat(net.counters()).containsEntry("rx_frames", 0L);
    }

    static byte[] filled(int n, byte value) {
        byte[] b = new byte[n];
        Arrays.fill(b, value);
        return b;
    }

    /** The driver's side of a split ring (virtio 1.2, 2.7) with no event index. */
    static final class Ring {
        final GuestMemory memory;
        final long desc;
        final long avail;
        final long used;
        short availIdx;

        Ring(GuestMemory memory, long desc, long avail, long used) {
            this.memory = memory;
            this.desc = desc;
            this.avail = avail;
            this.used = used;
        }

        void descriptor(int index, long addr, int len, int flags, int next) throws Exception {
            long at = desc + 16L * index;
            memory.writeLong(at, addr);
            memory.writeInt(at + 8, len);
            memory.writeShort(at + 12, (short) flags);
            memory.writeShort(at + 14, (short) next);
        }

        void offer(int head) throws Exception {
            memory.writeShort(avail + 4 + 2L * ((availIdx & 0xffff) % QUEUE), (short) head);
            availIdx++;
            memory.writeShort(avail + 2, availIdx);
        }

        int usedIdx() {
            try {
                return memory.readShort(used + 2) & 0xffff;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        int usedId(int i) throws Exception {
            return memory.readInt(used + 4 + 8L * (i % QUEUE));
        }

        int usedLen(int i) throws Exception {
            return memory.readInt(used + 4 + 8L * (i % QUEUE) + 4);
        }
    }
}
