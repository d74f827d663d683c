package dev.nimbus.devices.virtio;

import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_INDIRECT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_NEXT;
import static dev.nimbus.devices.virtio.VirtQueue.DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Split virtqueues (virtio 1.2, 2.7) read from a 4 MiB guest-memory fixture at GPA 0; no KVM. */
class VirtQueueTest {
    static final int SIZE = 8;
    static final long DESC = 0x1_0000;
    static final long AVAIL = 0x2_0000;
    static final long USED = 0x3_0000;
    static final long DATA = 0x10_0000;
    static final long RAM = 4L << 20;

    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)));
    final GuestQueue driver = new GuestQueue(memory, SIZE, DESC, AVAIL, USED);
    final VirtQueue queue = new VirtQueue(memory, 256);

    @AfterEach
    void close() {
        memory.close();
    }

    void activate(boolean eventIdx, boolean indirect) throws Exception {
        queue.setSize(SIZE);
        queue.setDescTable(DESC);
        queue.setAvailRing(AVAIL);
        queue.setUsedRing(USED);
        queue.setReady(true);
        queue.activate(eventIdx, indirect);
    }

    /** Offers one chain of one writable buffer at {@code head}, and takes it. */
    void roundTrip(int head) throws Exception {
        driver.descriptor(head, DATA, 16, DESC_F_WRITE, 0);
        driver.offer(head);
        DescriptorChain c = queue.pop();
        queue.addUsed(c.head(), 16);
    }

    @Test
    void emptyRingGivesNoChain() throws Exception {
        activate(false, false);
        assertThat(queue.pop()).isNull();
    }

    @Test
    void chainIsSplitIntoReadableThenWritableViewsOfGuestMemory() throws Exception {
        activate(false, false);
        memory.write(DATA, new byte[] {1, 2, 3, 4});
        driver.descriptor(0, DATA, 4, DESC_F_NEXT, 5);
        driver.descriptor(5, DATA + 0x1000, 512, DESC_F_WRITE | DESC_F_NEXT, 2);
        driver.descriptor(2, DATA + 0x2000, 1, DESC_F_WRITE, 0);
        driver.offer(0);

        DescriptorChain chain = queue.pop();
        assertThat(chain.head()).isZero();
        assertThat(chain.readable()).hasSize(1);
        assertThat(chain.writable()).extracting(ByteBuffer::remaining).containsExactly(512, 1);
        assertThat(chain.readable().getFirst().getInt(0)).isEqualTo(0x04030201);
        chain.writable().get(1).put((byte) 0x5a);
        assertThat(memory.readByte(DATA + 0x2000)).isEqualTo((byte) 0x5a);
    }

    @Test
    void usedEntryAndIndexArePublished() throws Exception {
        activate(false, false);
        driver.descriptor(3, DATA, 64, DESC_F_WRITE, 0);
        driver.offer(3);
        DescriptorChain chain = queue.pop();
        queue.addUsed(chain.head(), 40);
        assertThat(driver.usedIdx()).isEqualTo(1);
        assertThat(driver.usedId(0)).isEqualTo(3);
        assertThat(driver.usedLen(0)).isEqualTo(40);
        assertThat(queue.inFlight()).isZero();
    }

    @Test
    void indirectTableIsFollowed() throws Exception {
        activate(false, true);
        long table = DATA + 0x8000;
        driver.descriptorAt(table, 0, DATA, 16, DESC_F_NEXT, 1);
        driver.descriptorAt(table, 1, DATA + 0x100, 32, DESC_F_WRITE | DESC_F_NEXT, 2);
        driver.descriptorAt(table, 2, DATA + 0x200, 64, DESC_F_WRITE, 0);
        driver.descriptor(4, table, 3 * 16, DESC_F_INDIRECT, 0);
        driver.offer(4);

        DescriptorChain chain = queue.pop();
        assertThat(chain.head()).isEqualTo(4);
        assertThat(chain.readableBytes()).isEqualTo(16);
        assertThat(chain.writableBytes()).isEqualTo(96);
    }

    @Test
    void indirectDescriptorWithoutTheFeatureIsRejected() throws Exception {
        activate(false, false);
        driver.descriptorAt(DATA, 0, DATA + 0x100, 16, DESC_F_WRITE, 0);
        driver.descriptor(0, DATA, 16, DESC_F_INDIRECT, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("INDIRECT_DESC");
    }

    @Test
    void nestedIndirectTableIsRejected() throws Exception {
        activate(false, true);
        driver.descriptorAt(DATA, 0, DATA + 0x100, 16, DESC_F_INDIRECT, 0);
        driver.descriptor(0, DATA, 16, DESC_F_INDIRECT, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("inside an indirect");
    }

    @Test
    void indirectTableOfPartialDescriptorsIsRejected() throws Exception {
        activate(false, true);
        driver.descriptor(0, DATA, 24, DESC_F_INDIRECT, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("indirect table of 24 bytes");
    }

    @Test
    void loopingDescriptorChainIsRejected() throws Exception {
        activate(false, false);
        driver.descriptor(0, DATA, 16, DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 16, DESC_F_NEXT, 2);
        driver.descriptor(2, DATA, 16, DESC_F_NEXT, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("loops");
    }

    @Test
    void loopInsideAnIndirectTableIsRejected() throws Exception {
        activate(false, true);
        driver.descriptorAt(DATA, 0, DATA + 0x100, 16, DESC_F_NEXT, 1);
        driver.descriptorAt(DATA, 1, DATA + 0x100, 16, DESC_F_NEXT, 0);
        driver.descriptor(0, DATA, 32, DESC_F_INDIRECT, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("loops");
    }

    @Test
    void descriptorOutsideGuestRamIsRejected() throws Exception {
        activate(false, false);
        driver.descriptor(0, RAM - 8, 16, DESC_F_WRITE, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("not in guest RAM");
    }

    @Test
    void descriptorWithAbsurdLengthIsRejected() throws Exception {
        activate(false, false);
        driver.descriptor(0, DATA, 0xffff_fff0, DESC_F_WRITE, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("absurd length");
    }

    @Test
    void nextIndexPastTheQueueIsRejected() throws Exception {
        activate(false, false);
        driver.descriptor(0, DATA, 16, DESC_F_NEXT, SIZE);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("past a table of 8");
    }

    @Test
    void headIndexPastTheQueueIsRejected() throws Exception {
        activate(false, false);
        driver.offer(SIZE + 1);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("past the end");
    }

    @Test
    void chainLongerThanTheQueueSizeIsRejected() throws Exception {
        activate(false, true);
        // An indirect table of 8 entries plus... an indirect table may not exceed the queue size either.
        driver.descriptor(0, DATA, 16 * (SIZE + 1), DESC_F_INDIRECT, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("at most 8 descriptors");
    }

    @Test
    void headOfferedAgainWhileHeldIsRejected() throws Exception {
        activate(false, false);
        driver.descriptor(1, DATA, 16, DESC_F_WRITE, 0);
        driver.offer(1);
        driver.offer(1);
        queue.pop();
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("again");
    }

    @Test
    void headMayBeOfferedAgainOnceReturned() throws Exception {
        activate(false, false);
        roundTrip(1);
        roundTrip(1);
        assertThat(driver.usedIdx()).isEqualTo(2);
    }

    @Test
    void availableIndexRunningAheadOfTheQueueIsRejected() throws Exception {
        activate(false, false);
        driver.setAvailIdx(SIZE + 1);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("ahead");
    }

    @Test
    void readableBufferAfterWritableIsRejected() throws Exception {
        activate(false, false);
        driver.descriptor(0, DATA, 16, DESC_F_WRITE | DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 16, 0, 0);
        driver.offer(0);
        assertThatThrownBy(queue::pop).isInstanceOf(VirtQueueException.class).hasMessageContaining("after a device-writable");
    }

    @Test
    void ringsOutsideGuestRamAreRejectedAtActivation() {
        queue.setSize(SIZE);
        queue.setDescTable(RAM - 16);
        queue.setAvailRing(AVAIL);
        queue.setUsedRing(USED);
        assertThatThrownBy(() -> queue.activate(false, false)).isInstanceOf(VirtQueueException.class)
                .hasMessageContaining("descriptor table");
    }

    @Test
    void misalignedDescriptorTableIsRejectedAtActivation() {
        queue.setSize(SIZE);
        queue.setDescTable(DESC + 8);
        queue.setAvailRing(AVAIL);
        queue.setUsedRing(USED);
        assertThatThrownBy(() -> queue.activate(false, false)).isInstanceOf(VirtQueueException.class).hasMessageContaining("misaligned");
    }

    @Test
    void queueSizeThatIsNotAPowerOfTwoIsRefused() {
        queue.setSize(100);
        assertThat(queue.size()).isEqualTo(256);
    }

    @Test
    void interruptIsSentAfterUsedBuffersWithoutEventIdx() throws Exception {
        activate(false, false);
        roundTrip(0);
        assertThat(queue.needsInterrupt()).isTrue();
        assertThat(queue.needsInterrupt()).isFalse(); // nothing new since
    }

    @Test
    void noInterruptFlagSuppressesInterrupts() throws Exception {
        activate(false, false);
        driver.setAvailFlags(VirtQueue.AVAIL_F_NO_INTERRUPT);
        roundTrip(0);
        assertThat(queue.needsInterrupt()).isFalse();
    }

    @Test
    void usedEventSuppressesInterruptUntilReached() throws Exception {
        activate(true, false);
        driver.setUsedEvent(2); // interrupt me when used idx goes past 2, i.e. after the third buffer
        roundTrip(0);
        assertThat(queue.needsInterrupt()).isFalse();
        roundTrip(1);
        assertThat(queue.needsInterrupt()).isFalse();
        roundTrip(2);
        assertThat(queue.needsInterrupt()).isTrue();
    }

    @Test
    void usedEventPassedWithinABatchStillInterrupts() throws Exception {
        activate(true, false);
        driver.setUsedEvent(0);
        roundTrip(0);
        roundTrip(1);
        assertThat(queue.needsInterrupt()).isTrue();
    }

    @Test
    void drainedQueuePublishesAvailEventForTheNextNotification() throws Exception {
        activate(true, false);
        roundTrip(0);
        roundTrip(1);
        assertThat(queue.pop()).isNull();
        assertThat(driver.availEvent()).isEqualTo(2);
    }

    @Test
    void resetForgetsEverything() throws Exception {
        activate(false, false);
        driver.descriptor(0, DATA, 16, DESC_F_WRITE, 0);
        driver.offer(0);
        queue.pop();
        queue.reset();
        assertThat(queue.active()).isFalse();
        assertThat(queue.inFlight()).isZero();
        assertThat(queue.descTable()).isZero();
        assertThat(queue.pop()).isNull();
    }
}
