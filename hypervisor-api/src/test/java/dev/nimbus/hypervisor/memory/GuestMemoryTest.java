package dev.nimbus.hypervisor.memory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GuestMemoryTest {
    private static final long MIB = 1 << 20;
    private GuestMemory memory;

    @BeforeEach
    void map() {
        // two regions with a hole between them, as x86-64 RAM sits around the 32-bit device hole
        memory = GuestMemory.allocate(List.of(new AddressRange(0, 2 * MIB), new AddressRange(4 * MIB, MIB)));
    }

    @AfterEach
    void unmap() {
        memory.close();
    }

    @Test
    void valuesAreLittleEndian() throws Exception {
        memory.writeInt(0x1000, 0x11223344);
        assertThat(memory.readByte(0x1000)).isEqualTo((byte) 0x44);
        assertThat(memory.readShort(0x1002)).isEqualTo((short) 0x1122);
        memory.writeLong(0x2000, 0x0102030405060708L);
        assertThat(memory.readInt(0x2004)).isEqualTo(0x01020304);
    }

    @Test
    void bufferViewWritesStraightIntoGuestRam() throws Exception {
        ByteBuffer b = memory.buffer(4 * MIB + 16, 8);
        b.putLong(0, 0xCAFEBABEL);
        assertThat(memory.readLong(4 * MIB + 16)).isEqualTo(0xCAFEBABEL);
    }

    @Test
    void accessInTheHoleIsAnErrorValue() {
        assertThatThrownBy(() -> memory.readInt(3 * MIB))
                .isInstanceOf(GuestMemoryException.class)
                .hasMessage("guest address range 0x300000+0x4 is outside guest RAM");
    }

    @Test
    void accessStraddlingTheEndOfARegionIsRejected() {
        assertThatThrownBy(() -> memory.readLong(2 * MIB - 4)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> memory.write(2 * MIB - 1, new byte[2])).isInstanceOf(GuestMemoryException.class);
    }

    @Test
    void hugeOrNegativeAddressesAreRejectedWithoutOverflow() {
        assertThatThrownBy(() -> memory.readByte(-1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> memory.buffer(Long.MAX_VALUE - 2, 8)).isInstanceOf(GuestMemoryException.class);
        assertThat(memory.contains(0, -1)).isFalse();
    }

    @Test
    void bytesRoundTrip() throws Exception {
        byte[] data = "guest".getBytes();
        memory.write(0x500, data);
        byte[] back = new byte[data.length];
        memory.read(0x500, back);
        assertThat(back).isEqualTo(data);
    }

    @Test
    void sizeCountsEveryRegion() {
        assertThat(memory.size()).isEqualTo(3 * MIB);
        assertThat(memory.regions()).extracting(GuestRegion::guestAddress).containsExactly(0L, 4 * MIB);
    }

    @Test
    void overlappingRegionsAreRejected() {
        assertThatThrownBy(() -> GuestMemory.allocate(List.of(new AddressRange(0, 2 * MIB), new AddressRange(MIB, MIB))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overlap");
    }
}
