package dev.nimbus.hypervisor.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Guest RAM written to a file for a snapshot and mapped back from it, privately, on restore. */
class GuestMemoryFileTest {
    private static final long MIB = 1 << 20;
    // two regions with a hole between them, as x86-64 RAM sits around the 32-bit device hole
    private static final List<AddressRange> RANGES = List.of(new AddressRange(0, 3 * MIB), new AddressRange(8 * MIB, 2 * MIB));

    @Test
    void savedRamMapsBackWithItsContentsAndZeroPagesAsHoles(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("memory-ranges");
        try (GuestMemory memory = GuestMemory.allocate(RANGES)) {
            memory.writeLong(0x1000, 0x1122334455667788L);
            memory.writeInt(3 * MIB - 4, 0xCAFEBABE);      // the last bytes of the first region
            memory.fill(0x100000, 1500 * 1024, (byte) 0x5A); // a run longer than one write
            memory.writeByte(10 * MIB - 1, (byte) 7);       // the very last byte
            memory.saveTo(file);
        }
        assertThat(Files.size(file)).isEqualTo(5 * MIB);
        // mostly zeros: the file holds little more than the pages written
        Process stat = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
        String[] blocks = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
        assertThat(stat.waitFor()).isZero();
        long allocated = Long.parseLong(blocks[0]) * Long.parseLong(blocks[1]);
        assertThat(allocated).isLessThan(2 * MIB);

        try (GuestMemory restored = GuestMemory.mapFile(RANGES, file, false)) {
            assertThat(restored.readLong(0x1000)).isEqualTo(0x1122334455667788L);
            assertThat(restored.readInt(3 * MIB - 4)).isEqualTo(0xCAFEBABE);
            assertThat(restored.readByte(0x100000 + 1500 * 1024 - 1)).isEqualTo((byte) 0x5A);
            assertThat(restored.readByte(0x100000 + 1500 * 1024)).isZero();
            assertThat(restored.readByte(10 * MIB - 1)).isEqualTo((byte) 7);
            assertThat(restored.readLong(8 * MIB)).isZero();
            // the guest's writes stay private: the file is the snapshot, and restores again unchanged
            restored.writeLong(0x1000, 0);
        }
        try (GuestMemory again = GuestMemory.mapFile(RANGES, file, true)) {
            assertThat(again.readLong(0x1000)).isEqualTo(0x1122334455667788L);
        }
    }

    @Test
    void aFileOfAnotherLengthIsRefusedNamingBoth(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("memory-ranges");
        Files.write(file, new byte[4096]);
        assertThatThrownBy(() -> GuestMemory.mapFile(RANGES, file, false))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("4096 bytes").hasMessageContaining(5 * MIB + " bytes");
    }
}
