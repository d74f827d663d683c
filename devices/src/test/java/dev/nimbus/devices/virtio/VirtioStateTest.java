package dev.nimbus.devices.virtio;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.devices.virtio.block.BlockBackend;
import dev.nimbus.devices.virtio.block.VirtioBlock;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.LibC;
import dev.nimbus.host.net.Tap;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_NEXT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static dev.nimbus.devices.virtio.VirtioBlockOnPciTest.quietly;
import static dev.nimbus.devices.virtio.VirtioBlockOnPciTest.within;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A virtio function's saved state (transport, queues, MSI-X and the device's own), restored into a freshly
 * built function over a copy of guest memory, as a restore from a snapshot does: the driver does not
 * negotiate again, the queues go on at their saved indices, the next request lands at the right used index
 * with its interrupt.
 */
class VirtioStateTest {
    static final int QUEUE = 64;
    static final long DESC = 0x1_0000, AVAIL = 0x1_1000, USED = 0x1_2000;
    static final long HEADERS = 0x10_0000, DATA = 0x20_0000, STATUS = 0x30_0000;
    static final long EVENT_IDX = VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);

    @TempDir
    Path dir;
    final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    GuestMemory memory() {
        GuestMemory m = GuestMemory.allocate(List.of(new AddressRange(0, 8L << 20)));
        closing.add(m);
        return m;
    }

    /** What a restore maps from the snapshot's memory file: the same bytes in a new mapping. */
    GuestMemory copyOf(GuestMemory saved) throws Exception {
        GuestMemory m = memory();
        m.buffer(0, (int) saved.size()).put(saved.buffer(0, (int) saved.size()));
        return m;
    }

    FileChannel image(int sectors) throws IOException {
        byte[] bytes = new byte[sectors * VirtioBlock.SECTOR_SIZE];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i / VirtioBlock.SECTOR_SIZE);
        }
        Path p = Files.write(dir.resolve("disk" + closing.size() + ".raw"), bytes);
        FileChannel f = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        closing.add(f);
        return f;
    }

    /** Read request {@code r}: sector r into its own 512 bytes, descriptors 3r..3r+2; offered, not notified. */
    static void offerRead(GuestMemory memory, GuestQueue q, int r) throws Exception {
        memory.writeInt(HEADERS + 16L * r, VirtioBlock.T_IN);
        memory.writeLong(HEADERS + 16L * r + 8, r);
        memory.writeByte(STATUS + r, (byte) 0x7f);
        q.descriptor(3 * r, HEADERS + 16L * r, 16, DESC_F_NEXT, 3 * r + 1);
        q.descriptor(3 * r + 1, DATA + 512L * r, 512, DESC_F_WRITE | DESC_F_NEXT, 3 * r + 2);
        q.descriptor(3 * r + 2, STATUS + r, 1, DESC_F_WRITE, 0);
        q.offer(3 * r);
    }

    /** The common-configuration fields a driver reads back, queue 0 selected. */
    static List<Long> transportView(PciTransportDriver d) {
        List<Long> seen = new ArrayList<>();
        d.common(0x16, 2, 0);
        for (int field : new int[] {0x10, 0x14, 0x18, 0x1a, 0x1c}) {
            seen.add(d.common(field, 2) & (field == 0x14 ? 0xff : 0xffff));
        }
        for (int field : new int[] {0x20, 0x28, 0x30}) {
            seen.add(d.common(field, 4) | d.common(field + 4, 4) << 32);
        }
        d.common(0x08, 4, 0);
        seen.add(d.common(0x0c, 4));
        d.common(0x08, 4, 1);
        seen.add(d.common(0x0c, 4));
        return seen;
    }

    @Test
    void aRestoredDiskServesTheNextRequestsAtTheSavedIndexWithTheirInterrupt() throws Exception {
        GuestMemory memory = memory();
        VirtioPciDevice saved = new VirtioPciDevice(new VirtioBlock(image(64), false, "snap", QUEUE), memory, new RecordingMsiRouting(), -1);
        PciTransportDriver driver = new PciTransportDriver(saved);
        GuestQueue q = new GuestQueue(memory, QUEUE, DESC, AVAIL, USED);
        driver.bringUp(q, 1L << VirtioBlock.F_FLUSH | EVENT_IDX);
        offerRead(memory, q, 0);
        offerRead(memory, q, 1);
        saved.processQueue(0);
        assertThat(q.usedIdx()).isEqualTo(2);
        offerRead(memory, q, 2); // offered just before the pause, not served yet
        DeviceState state = saved.saveState();

        GuestMemory restored = copyOf(memory);
        RecordingMsiRouting routing = new RecordingMsiRouting();
        VirtioPciDevice fresh = new VirtioPciDevice(new VirtioBlock(image(64), false, "snap", QUEUE), restored, routing, -1);
        fresh.restoreState(state);

        assertThat(routing.route(0)).as("the queue's vector is routed before it fires").isNotNull();
        assertThat(fresh.status()).isEqualTo(saved.status());
        assertThat(transportView(new PciTransportDriver(fresh))).isEqualTo(transportView(driver));
        GuestQueue g = new GuestQueue(restored, QUEUE, DESC, AVAIL, USED);
        g.setAvailIdx(3);
        offerRead(restored, g, 3);
        g.setUsedEvent(2); // the driver wants an interrupt once entry 2 is used
        fresh.processQueue(0);

        assertThat(g.usedIdx()).isEqualTo(4);
        assertThat(List.of(g.usedId(2), g.usedId(3))).containsExactly(6, 9);
        assertThat(restored.readByte(STATUS + 3)).isEqualTo(VirtioBlock.S_OK);
        assertThat(restored.readByte(DATA + 512L * 3)).isEqualTo((byte) 3);
        assertThat(g.availEvent()).as("event idx: notify me at the next index").isEqualTo(4);
        assertThat(routing.signals()).containsExactly(0);
    }

    @Test
    void aRestoredWorkerServesWhatTheDriverOfferedBeforeThePauseWithoutANewNotification() throws Exception {
        GuestMemory memory = memory();
        VirtioPciDevice saved = new VirtioPciDevice(new VirtioBlock(image(64), false, "snap", QUEUE), memory, new RecordingMsiRouting(), -1);
        GuestQueue q = new GuestQueue(memory, QUEUE, DESC, AVAIL, USED);
        new PciTransportDriver(saved).bringUp(q, 1L << VirtioBlock.F_FLUSH);
        DeviceState state;
        try (EventFd notify = EventFd.createNonBlocking()) {
            VirtioWorker worker = new VirtioWorker(saved, List.of(notify));
            worker.start();
            offerRead(memory, q, 0);
            notify.signal();
            within("the first request", () -> quietly(() -> q.usedIdx() == 1));
            worker.pause();
            offerRead(memory, q, 1);
            notify.signal(); // waits in the old machine's eventfd, never served there
            state = saved.saveState();
            worker.close();
        }
        GuestMemory restored = copyOf(memory);
        RecordingMsiRouting routing = new RecordingMsiRouting();
        VirtioPciDevice fresh = new VirtioPciDevice(new VirtioBlock(image(64), false, "snap", QUEUE), restored, routing, -1);
        fresh.restoreState(state);
        GuestQueue g = new GuestQueue(restored, QUEUE, DESC, AVAIL, USED);
        try (EventFd notify = EventFd.createNonBlocking()) {
            VirtioWorker worker = new VirtioWorker(fresh, List.of(notify));
            worker.notifyQueues();
            worker.start();
            try {
                within("the request offered before the pause", () -> quietly(() -> g.usedIdx() == 2));
                within("its interrupt", () -> routing.count(0) == 1);
            } finally {
                worker.close();
            }
        }
        assertThat(g.usedId(1)).isEqualTo(3);
        assertThat(restored.readByte(DATA + 512)).isEqualTo((byte) 1);
    }

    @Test
    void pauseReturnsOnlyOnceTheRequestUnderWayIsInTheUsedRingAndOnlyThenIsTheStateSaved() throws Exception {
        GuestMemory memory = memory();
        CountDownLatch gate = new CountDownLatch(1);
        BlockBackend image = BlockBackend.of(image(64));
        BlockBackend slow = new BlockBackend() {
            @Override
            public long size() throws IOException {
                return image.size();
            }

            @Override
            public long read(List<ByteBuffer> buffers, long offset) throws IOException {
                try {
                    gate.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return image.read(buffers, offset);
            }

            @Override
            public long write(List<ByteBuffer> buffers, long offset) throws IOException {
                return image.write(buffers, offset);
            }

            @Override
            public void flush() throws IOException {
                image.flush();
            }
        };
        VirtioBlock blk = new VirtioBlock(slow, false, "snap", QUEUE, 1);
        VirtioPciDevice device = new VirtioPciDevice(blk, memory, new RecordingMsiRouting(), -1);
        GuestQueue q = new GuestQueue(memory, QUEUE, DESC, AVAIL, USED);
        new PciTransportDriver(device).bringUp(q, 0);
        try (EventFd notify = EventFd.createNonBlocking()) {
            VirtioWorker worker = new VirtioWorker(device, List.of(notify));
            worker.start();
            try {
                offerRead(memory, q, 0);
                notify.signal();
                within("the request under way", () -> blk.inFlight() == 1);
                assertThatThrownBy(device::saveState).isInstanceOf(IllegalStateException.class).hasMessageContaining("in flight");
                Thread pausing = Thread.ofPlatform().start(() -> quietly(() -> {
                    worker.pause();
                    return true;
                }));
                pausing.join(200);
                assertThat(pausing.isAlive()).as("pause waits for the request").isTrue();
                gate.countDown();
                pausing.join(10_000);

                assertThat(q.usedIdx()).as("given back before the pause returned").isEqualTo(1);
                assertThat(memory.readByte(STATUS)).isEqualTo(VirtioBlock.S_OK);
                assertThat(device.saveState().id()).isEqualTo("virtio-pci");
            } finally {
                worker.close();
            }
        }
    }

    @Test
    void aRestoredNetworkCardKeepsTheMacAndTheReceiveBuffersItHeld() throws Exception {
        GuestMemory memory = memory();
        byte[] mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
        VirtioPciDevice saved = net(memory, mac, new RecordingMsiRouting());
        GuestQueue rx = bringUpNet(saved, memory);
        for (int i = 0; i < 2; i++) {
            rx.descriptor(i, 0x40_0000 + 0x1000L * i, 2048, DESC_F_WRITE, 0);
            rx.offer(i);
        }
        saved.processQueue(VirtioNet.RX_QUEUE); // takes both, no frame yet: the device holds them
        assertThat(saved.queue(VirtioNet.RX_QUEUE).inFlight()).isEqualTo(2);
        DeviceState state = saved.saveState();

        GuestMemory restored = copyOf(memory);
        RecordingMsiRouting routing = new RecordingMsiRouting();
        Link link = Link.open();
        closing.add(link);
        VirtioPciDevice fresh = new VirtioPciDevice(new VirtioNet(link.tap(), VirtioNet.randomMac(new java.util.Random(1)), 2, QUEUE),
                restored, routing, -1);
        fresh.restoreState(state);

        byte[] seen = new byte[6];
        for (int i = 0; i < 6; i++) {
            seen[i] = (byte) fresh.device().readConfig(i, 1);
        }
        assertThat(seen).as("the MAC the guest knows").isEqualTo(mac);
        ByteBuffer frame = ByteBuffer.allocateDirect(VirtioNet.HEADER_SIZE + 60);
        frame.put(VirtioNet.HEADER_SIZE, (byte) 0xab).limit(VirtioNet.HEADER_SIZE + 60);
        assertThat(link.wire().writev(List.of(frame))).isEqualTo(VirtioNet.HEADER_SIZE + 60);
        fresh.serveHostFd(0);

        GuestQueue g = new GuestQueue(restored, QUEUE, DESC, AVAIL, USED);
        assertThat(g.usedIdx()).isEqualTo(1);
        assertThat(g.usedId(0)).as("the first buffer it held").isZero();
        assertThat(g.usedLen(0)).isEqualTo(VirtioNet.HEADER_SIZE + 60);
        assertThat(restored.readByte(0x40_0000 + VirtioNet.HEADER_SIZE)).isEqualTo((byte) 0xab);
        assertThat(routing.signals()).containsExactly(0);
    }

    record Link(Tap tap, Tap wire) implements AutoCloseable {
        static Link open() {
            int[] fds = LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0, "socketpair");
            return new Link(Tap.adopt(fds[0], "state-tap"), Tap.adopt(fds[1], "state-wire"));
        }

        @Override
        public void close() {
            tap.close();
            wire.close();
        }
    }

    VirtioPciDevice net(GuestMemory memory, byte[] mac, RecordingMsiRouting routing) {
        Link link = Link.open();
        closing.add(link);
        return new VirtioPciDevice(new VirtioNet(link.tap(), mac, 2, QUEUE), memory, routing, -1);
    }

    /** MSI-X, VERSION_1 + MRG_RXBUF + MAC, the receive queue at the fixture's rings on vector 0, transmit on 1. */
    static GuestQueue bringUpNet(VirtioPciDevice device, GuestMemory memory) {
        PciTransportDriver d = new PciTransportDriver(device);
        GuestQueue rx = new GuestQueue(memory, QUEUE, DESC, AVAIL, USED);
        d.enableMsix();
        d.negotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | 1L << VirtioNet.F_MRG_RXBUF | 1L << VirtioNet.F_MAC);
        d.queue(VirtioNet.RX_QUEUE, rx, 0);
        d.queue(VirtioNet.TX_QUEUE, new GuestQueue(memory, QUEUE, 0x2_0000, 0x2_1000, 0x2_2000), 1);
        d.driverOk();
        return rx;
    }

    @Test
    void typedInputTheConsoleHadNotDeliveredReachesTheGuestAfterTheRestore() throws Exception {
        GuestMemory memory = memory();
        VirtioConsole console = new VirtioConsole(new ByteArrayOutputStream());
        VirtioPciDevice saved = new VirtioPciDevice(console, memory, new RecordingMsiRouting(), -1);
        GuestQueue rx = new GuestQueue(memory, QUEUE, DESC, AVAIL, USED);
        new PciTransportDriver(saved).bringUp(rx, 0);
        byte[] typed = "date\n".getBytes(StandardCharsets.US_ASCII);
        console.receive(typed, 0, typed.length); // no receive buffer posted yet
        DeviceState state = saved.saveState();

        GuestMemory restored = copyOf(memory);
        VirtioPciDevice fresh = new VirtioPciDevice(new VirtioConsole(new ByteArrayOutputStream()), restored, new RecordingMsiRouting(), -1);
        fresh.restoreState(state);
        GuestQueue g = new GuestQueue(restored, QUEUE, DESC, AVAIL, USED);
        g.descriptor(0, 0x40_0000, 64, DESC_F_WRITE, 0);
        g.offer(0);
        fresh.processQueue(VirtioConsole.RECEIVEQ);

        assertThat(g.usedLen(0)).isEqualTo(typed.length);
        byte[] got = new byte[typed.length];
        restored.buffer(0x40_0000, typed.length).get(got);
        assertThat(got).isEqualTo(typed);
    }

    @Test
    void anEntropySourceGoesOnWithNothingButTheTransportsState() throws Exception {
        GuestMemory memory = memory();
        VirtioPciDevice saved = new VirtioPciDevice(new VirtioRng(Channels.newChannel(new java.io.ByteArrayInputStream(new byte[64]))),
                memory, new RecordingMsiRouting(), -1);
        GuestQueue q = new GuestQueue(memory, QUEUE, DESC, AVAIL, USED);
        new PciTransportDriver(saved).bringUp(q, 0);
        q.descriptor(0, 0x40_0000, 16, DESC_F_WRITE, 0);
        q.offer(0);
        saved.processQueue(0);

        GuestMemory restored = copyOf(memory);
        RecordingMsiRouting routing = new RecordingMsiRouting();
        VirtioPciDevice fresh = new VirtioPciDevice(new VirtioRng(Channels.newChannel(new java.io.ByteArrayInputStream(new byte[64]))),
                restored, routing, -1);
        fresh.restoreState(saved.saveState());
        GuestQueue g = new GuestQueue(restored, QUEUE, DESC, AVAIL, USED);
        g.setAvailIdx(1);
        g.descriptor(1, 0x40_1000, 16, DESC_F_WRITE, 0);
        g.offer(1);
        fresh.processQueue(0);

        assertThat(g.usedIdx()).isEqualTo(2);
        assertThat(g.usedId(1)).isEqualTo(1);
        assertThat(routing.signals()).containsExactly(0);
    }

    @Test
    void statesTheFunctionCannotTakeAreRefusedNamingTheFieldAndChangeNothing() throws Exception {
        GuestMemory memory = memory();
        VirtioPciDevice saved = new VirtioPciDevice(new VirtioBlock(image(64), false, "snap", QUEUE), memory, new RecordingMsiRouting(), -1);
        new PciTransportDriver(saved).bringUp(new GuestQueue(memory, QUEUE, DESC, AVAIL, USED), 0);
        DeviceState good = saved.saveState();
        byte[] d = good.data();
        byte[] badSize = d.clone();
        badSize[29] = 3; // queue 0's size: not a power of two
        badSize[30] = 0;
        byte[] cut = java.util.Arrays.copyOf(d, 40);
        DeviceState rngState = new VirtioPciDevice(new VirtioRng(Channels.newChannel(new java.io.ByteArrayInputStream(new byte[0]))),
                memory, new RecordingMsiRouting(), -1).saveState();
        RecordingMsiRouting routing = new RecordingMsiRouting();
        VirtioPciDevice fresh = new VirtioPciDevice(new VirtioBlock(image(64), false, "snap", QUEUE), memory(), routing, -1);
        VirtioPciDevice smaller = new VirtioPciDevice(new VirtioBlock(image(32), false, "snap", QUEUE), memory(), routing, -1);

        assertThatThrownBy(() -> fresh.restoreState(rngState)).isInstanceOf(DeviceStateException.class).hasMessageContaining("device type");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState("virtio-pci", 2, d))).isInstanceOf(DeviceStateException.class)
                .hasMessageContaining("version 2");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState("virtio-pci", 1, badSize))).isInstanceOf(DeviceStateException.class)
                .hasMessageContaining("queue 0 size");
        assertThatThrownBy(() -> fresh.restoreState(new DeviceState("virtio-pci", 1, cut))).isInstanceOf(DeviceStateException.class)
                .hasMessageContaining("ends inside");
        assertThatThrownBy(() -> smaller.restoreState(good)).isInstanceOf(DeviceStateException.class)
                .hasMessageContaining("virtio-blk: capacity is 64 sectors in the state, the disk has 32");
        for (VirtioPciDevice f : List.of(fresh, smaller)) {
            assertThat(f.status()).isZero();
            assertThat(f.msix().enabled()).isFalse();
            assertThat(f.msix().readTable(12, 4)).isEqualTo(1L);
        }
        assertThat(routing.signals()).isEmpty();
        assertThat(routing.route(0)).isNull();
    }
}
