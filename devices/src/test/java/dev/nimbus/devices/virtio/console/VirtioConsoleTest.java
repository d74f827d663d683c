package dev.nimbus.devices.virtio.console;

import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.VirtQueueException;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_NEXT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static dev.nimbus.devices.virtio.console.VirtioConsole.RECEIVEQ;
import static dev.nimbus.devices.virtio.console.VirtioConsole.TRANSMITQ;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * virtio-console with one port (virtio 1.2, 5.3): the driver's output on transmitq (1), host input into the
 * buffers it posts on receiveq (0), and the size in the configuration. Both queues are split rings in a
 * 4 MiB guest-memory fixture, written the way a driver writes them.
 */
class VirtioConsoleTest {
    static final long RX_DATA = 0x10_0000;
    static final long TX_DATA = 0x20_0000;

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
    final Ring rx = new Ring(memory, 0x1_0000);
    final Ring tx = new Ring(memory, 0x4_0000);
    final ByteArrayOutputStream output = new ByteArrayOutputStream();
    VirtioConsole console = new VirtioConsole(output);

    @BeforeEach
    void activate() throws Exception {
        rx.activate();
        tx.activate();
    }

    @AfterEach
    void close() {
        memory.close();
    }

    /** One split ring of 16 entries: descriptors at base, driver area at +0x1000, device area at +0x2000. */
    static final class Ring {
        static final int SIZE = 16;
        final GuestMemory memory;
        final long desc;
        final long avail;
        final long used;
        final VirtQueue queue;
        short availIdx;

        Ring(GuestMemory memory, long base) {
            this.memory = memory;
            this.desc = base;
            this.avail = base + 0x1000;
            this.used = base + 0x2000;
            this.queue = new VirtQueue(memory, VirtioConsole.QUEUE_SIZE);
        }

        void activate() throws VirtQueueException {
            queue.setSize(SIZE);
            queue.setDescTable(desc);
            queue.setAvailRing(avail);
            queue.setUsedRing(used);
            queue.setReady(true);
            queue.activate(false, false);
        }

        void descriptor(int index, long addr, int len, int flags, int next) throws Exception {
            memory.writeLong(desc + 16L * index, addr);
            memory.writeInt(desc + 16L * index + 8, len);
            memory.writeShort(desc + 16L * index + 12, (short) flags);
            memory.writeShort(desc + 16L * index + 14, (short) next);
        }

        void offer(int head) throws Exception {
            memory.writeShort(avail + 4 + 2L * (availIdx % SIZE), (short) head);
            availIdx++;
            memory.writeShort(avail + 2, availIdx);
        }

        int usedIdx() throws Exception {
            return memory.readShort(used + 2) & 0xffff;
        }

        int usedId(int i) throws Exception {
            return memory.readInt(used + 4 + 8L * i);
        }

        int usedLen(int i) throws Exception {
            return memory.readInt(used + 4 + 8L * i + 4);
        }
    }

    void guestWrites(long gpa, String text) throws Exception {
        memory.write(gpa, text.getBytes(StandardCharsets.US_ASCII));
    }

    String guestReads(long gpa, int length) throws Exception {
        byte[] b = new byte[length];
        memory.read(gpa, b);
        return new String(b, StandardCharsets.US_ASCII);
    }

    void hostTypes(String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        console.receive(b, 0, b.length);
    }

    /** Posts one writable receive buffer of {@code length} bytes at RX_DATA + 0x100 * index. */
    void postReceiveBuffer(int index, int length) throws Exception {
        rx.descriptor(index, RX_DATA + 0x100L * index, length, DESC_F_WRITE, 0);
        rx.offer(index);
    }

    // ---- transmit ----

    @Test
    void guestOutputReachesTheStreamByteExactAcrossChains() throws Exception {
        guestWrites(TX_DATA, "Linux version 6.12\r\n");
        guestWrites(TX_DATA + 0x1000, "login: ");
        tx.descriptor(0, TX_DATA, 20, 0, 0);
        tx.descriptor(1, TX_DATA + 0x1000, 7, 0, 0);
        tx.offer(0);
        tx.offer(1);

        console.process(TRANSMITQ, tx.queue);

        assertThat(output.toString(StandardCharsets.US_ASCII)).isEqualTo("Linux version 6.12\r\nlogin: ");
        assertThat(tx.usedIdx()).isEqualTo(2);
        assertThat(tx.usedId(0)).isZero();
        assertThat(tx.usedLen(0)).isZero(); // the device writes nothing into a transmit buffer
        assertThat(tx.usedId(1)).isEqualTo(1);
        assertThat(console.counters().get("tx_bytes")).isEqualTo(27L);
    }

    @Test
    void chainSpanningDescriptorsIsWrittenInChainOrder() throws Exception {
        guestWrites(TX_DATA + 0x2000, "ab");
        guestWrites(TX_DATA, "cde");
        guestWrites(TX_DATA + 0x5000, "f");
        tx.descriptor(3, TX_DATA + 0x2000, 2, DESC_F_NEXT, 7);
        tx.descriptor(7, TX_DATA, 3, DESC_F_NEXT, 1);
        tx.descriptor(1, TX_DATA + 0x5000, 1, 0, 0);
        tx.offer(3);

        console.process(TRANSMITQ, tx.queue);

        assertThat(output.toString(StandardCharsets.US_ASCII)).isEqualTo("abcdef");
        assertThat(tx.usedId(0)).isEqualTo(3);
    }

    @Test
    void binaryOutputLargerThanTheCopyBufferIsUnchanged() throws Exception {
        byte[] bytes = new byte[10_000];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31 + 7);
        }
        memory.write(TX_DATA, bytes);
        tx.descriptor(0, TX_DATA, bytes.length, 0, 0);
        tx.offer(0);

        console.process(TRANSMITQ, tx.queue);

        assertThat(output.toByteArray()).isEqualTo(bytes);
    }

    @Test
    void transmitChainWithWritableBufferIsDroppedUnusedAndTheNextStillGoesOut() throws Exception {
        guestWrites(TX_DATA, "bad");
        guestWrites(TX_DATA + 0x1000, "good");
        tx.descriptor(0, TX_DATA, 3, DESC_F_NEXT, 1);
        tx.descriptor(1, TX_DATA + 0x800, 16, DESC_F_WRITE, 0);
        tx.descriptor(2, TX_DATA + 0x1000, 4, 0, 0);
        tx.offer(0);
        tx.offer(2);

        console.process(TRANSMITQ, tx.queue);

        assertThat(output.toString(StandardCharsets.US_ASCII)).isEqualTo("good");
        assertThat(tx.usedIdx()).isEqualTo(2);
        assertThat(tx.usedId(0)).isZero();
        assertThat(tx.usedLen(0)).isZero();
    }

    @Test
    void transmitChainLongerThanTheLimitIsDroppedUnused() throws Exception {
        tx.descriptor(0, TX_DATA, VirtioConsole.MAX_TRANSMIT / 2, DESC_F_NEXT, 1);
        tx.descriptor(1, TX_DATA + VirtioConsole.MAX_TRANSMIT / 2, VirtioConsole.MAX_TRANSMIT / 2 + 1, 0, 0);
        tx.offer(0);

        console.process(TRANSMITQ, tx.queue);

        assertThat(output.size()).isZero();
        assertThat(tx.usedIdx()).isEqualTo(1);
        assertThat(tx.usedLen(0)).isZero();
        assertThat(console.counters().get("tx_bytes")).isZero();
    }

    @Test
    void loopingTransmitChainIsAQueueError() throws Exception {
        tx.descriptor(0, TX_DATA, 1, DESC_F_NEXT, 1);
        tx.descriptor(1, TX_DATA, 1, DESC_F_NEXT, 0);
        tx.offer(0);

        assertThatThrownBy(() -> console.process(TRANSMITQ, tx.queue)).isInstanceOf(VirtQueueException.class);
        assertThat(output.size()).isZero();
    }

    @Test
    void failingOutputDropsGuestOutputButReturnsTheChains() throws Exception {
        console = new VirtioConsole(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("disk full");
            }
        });
        guestWrites(TX_DATA, "x");
        tx.descriptor(0, TX_DATA, 1, 0, 0);
        tx.descriptor(1, TX_DATA, 1, 0, 0);
        tx.offer(0);
        tx.offer(1);

        console.process(TRANSMITQ, tx.queue);

        assertThat(tx.usedIdx()).isEqualTo(2);
    }

    // ---- receive ----

    @Test
    void hostInputLandsInTheGuestsReceiveBuffer() throws Exception {
        postReceiveBuffer(0, 64);
        hostTypes("ls -l\r");

        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedIdx()).isEqualTo(1);
        assertThat(rx.usedId(0)).isZero();
        assertThat(rx.usedLen(0)).isEqualTo(6);
        assertThat(guestReads(RX_DATA, 6)).isEqualTo("ls -l\r");
        assertThat(console.counters().get("rx_bytes")).isEqualTo(6L);
    }

    @Test
    void inputLargerThanOneBufferFillsSeveralInOrder() throws Exception {
        postReceiveBuffer(0, 8);
        postReceiveBuffer(1, 8);
        postReceiveBuffer(2, 8);
        hostTypes("0123456789abcdefghij");

        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedIdx()).isEqualTo(3);
        assertThat(rx.usedLen(0)).isEqualTo(8);
        assertThat(rx.usedLen(1)).isEqualTo(8);
        assertThat(rx.usedLen(2)).isEqualTo(4);
        assertThat(guestReads(RX_DATA, 8) + guestReads(RX_DATA + 0x100, 8) + guestReads(RX_DATA + 0x200, 4))
                .isEqualTo("0123456789abcdefghij");
    }

    @Test
    void inputLeftOverWaitsForTheNextBuffer() throws Exception {
        postReceiveBuffer(0, 4);
        hostTypes("abcdefg");
        console.process(RECEIVEQ, rx.queue);
        assertThat(rx.usedIdx()).isEqualTo(1);

        postReceiveBuffer(1, 64);
        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedIdx()).isEqualTo(2);
        assertThat(rx.usedLen(1)).isEqualTo(3);
        assertThat(guestReads(RX_DATA + 0x100, 3)).isEqualTo("efg");
    }

    @Test
    void inputBeforeTheGuestPostsBuffersWaitsForThem() throws Exception {
        hostTypes("early");
        console.process(RECEIVEQ, rx.queue);
        assertThat(rx.usedIdx()).isZero();

        postReceiveBuffer(0, 64);
        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedLen(0)).isEqualTo(5);
        assertThat(guestReads(RX_DATA, 5)).isEqualTo("early");
    }

    @Test
    void postedBuffersAreKeptUntilInputArrives() throws Exception {
        postReceiveBuffer(0, 64);
        console.process(RECEIVEQ, rx.queue);
        assertThat(rx.usedIdx()).isZero();
        assertThat(rx.queue.inFlight()).isZero();

        hostTypes("y");
        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedIdx()).isEqualTo(1);
        assertThat(rx.usedLen(0)).isEqualTo(1);
    }

    @Test
    void receiveChainSpanningDescriptorsIsFilledAcrossThem() throws Exception {
        rx.descriptor(0, RX_DATA, 3, DESC_F_WRITE | DESC_F_NEXT, 1);
        rx.descriptor(1, RX_DATA + 0x800, 16, DESC_F_WRITE, 0);
        rx.offer(0);
        hostTypes("hello");

        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedLen(0)).isEqualTo(5);
        assertThat(guestReads(RX_DATA, 3) + guestReads(RX_DATA + 0x800, 2)).isEqualTo("hello");
    }

    @Test
    void receiveChainWithNothingWritableIsReturnedEmptyAndInputKept() throws Exception {
        rx.descriptor(0, RX_DATA, 16, 0, 0);
        rx.offer(0);
        postReceiveBuffer(1, 16);
        hostTypes("ok");

        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedIdx()).isEqualTo(2);
        assertThat(rx.usedLen(0)).isZero();
        assertThat(rx.usedId(1)).isEqualTo(1);
        assertThat(rx.usedLen(1)).isEqualTo(2);
        assertThat(guestReads(RX_DATA + 0x100, 2)).isEqualTo("ok");
    }

    @Test
    void inputBeyondTheBufferIsDroppedNewestFirst() throws Exception {
        console = new VirtioConsole(output, 80, 24, 8);
        hostTypes("12345");
        hostTypes("6789abc");
        assertThat(console.counters()).containsEntry("rx_dropped_bytes", 4L).containsEntry("rx_bytes", 0L);

        postReceiveBuffer(0, 64);
        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedLen(0)).isEqualTo(8);
        assertThat(guestReads(RX_DATA, 8)).isEqualTo("12345678");
    }

    @Test
    void bufferWrapsAroundAsTheGuestDrainsIt() throws Exception {
        console = new VirtioConsole(output, 80, 24, 8);
        hostTypes("abcdef");
        postReceiveBuffer(0, 4);
        console.process(RECEIVEQ, rx.queue);
        hostTypes("ghijkl"); // 2 waiting + 6: fills the ring across its end

        postReceiveBuffer(1, 64);
        console.process(RECEIVEQ, rx.queue);

        assertThat(rx.usedLen(1)).isEqualTo(8);
        assertThat(guestReads(RX_DATA + 0x100, 8)).isEqualTo("efghijkl");
        assertThat(console.counters().get("rx_dropped_bytes")).isZero();
    }

    @Test
    void inputRunsTheInputAction() {
        AtomicInteger runs = new AtomicInteger();
        console.onInput(runs::incrementAndGet);

        hostTypes("a");
        hostTypes("bc");

        assertThat(runs).hasValue(2);
    }

    /** The VMM closes the eventfd the old action signals only after replacing it: no signal may still be under way. */
    @Test
    void replacingTheInputActionWaitsForARunInProgress() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> events = new CopyOnWriteArrayList<>();
        console.onInput(() -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            events.add("old action finished");
        });
        Thread input = Thread.ofPlatform().start(() -> hostTypes("a"));
        running.await();
        Thread replacer = Thread.ofPlatform().start(() -> {
            console.onInput(() -> {});
            events.add("replaced");
        });
        while (replacer.getState() != Thread.State.BLOCKED) {
            Thread.onSpinWait();
        }
        release.countDown();
        replacer.join();
        input.join();

        assertThat(events).containsExactly("old action finished", "replaced");
    }

    @Test
    void inputWaitingAtResetIsDeliveredToTheNextDriver() throws Exception {
        hostTypes("typed during boot");
        console.reset();

        postReceiveBuffer(0, 64);
        console.process(RECEIVEQ, rx.queue);

        assertThat(guestReads(RX_DATA, rx.usedLen(0))).isEqualTo("typed during boot");
    }

    // ---- configuration ----

    @Test
    void offersSizeAndEmergencyWriteButNotMultiport() {
        assertThat(console.deviceType()).isEqualTo(3);
        assertThat(console.queueCount()).isEqualTo(2);
        assertThat(console.deviceFeatures()).isEqualTo(1L << VirtioConsole.F_SIZE | 1L << VirtioConsole.F_EMERG_WRITE);
        assertThat(console.deviceFeatures() & 1L << VirtioConsole.F_MULTIPORT).isZero();
    }

    @Test
    void configurationShowsTheDefault80x24() {
        assertThat(console.configSize()).isEqualTo(12);
        assertThat(console.readConfig(VirtioConsole.CONFIG_COLS, 2)).isEqualTo(80);
        assertThat(console.readConfig(VirtioConsole.CONFIG_ROWS, 2)).isEqualTo(24);
        assertThat(console.readConfig(0, 4)).isEqualTo(80 | 24 << 16);
        assertThat(console.readConfig(VirtioConsole.CONFIG_MAX_NR_PORTS, 4)).isZero();
    }

    @Test
    void configurationShowsTheGivenSize() {
        console = new VirtioConsole(output, 300, 43, 1024);
        assertThat(console.readConfig(VirtioConsole.CONFIG_COLS, 2)).isEqualTo(300);
        assertThat(console.readConfig(VirtioConsole.CONFIG_COLS, 1)).isEqualTo(300 & 0xff);
        assertThat(console.readConfig(VirtioConsole.CONFIG_COLS + 1, 1)).isEqualTo(1);
        assertThat(console.readConfig(VirtioConsole.CONFIG_ROWS, 2)).isEqualTo(43);
    }

    @Test
    void sizeOutsideSixteenBitsIsRefused() {
        assertThatThrownBy(() -> new VirtioConsole(output, 0, 24, 1024)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new VirtioConsole(output, 80, 65536, 1024)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void emergencyWriteOutputsOneByte() {
        console.writeConfig(VirtioConsole.CONFIG_EMERG_WR, 4, 'P');
        console.writeConfig(VirtioConsole.CONFIG_EMERG_WR, 4, 0x100 | '!');
        console.writeConfig(VirtioConsole.CONFIG_COLS, 2, 'x'); // cols is read-only

        assertThat(output.toString(StandardCharsets.US_ASCII)).isEqualTo("P!");
        assertThat(console.readConfig(VirtioConsole.CONFIG_COLS, 2)).isEqualTo(80);
    }
}
