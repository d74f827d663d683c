package dev.nimbus.vmm.snapshot;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.vmm.config.CommandLineConfig;
import dev.nimbus.vmm.config.VmConfig;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The snapshot directory: written, read back whole, and every way it can be wrong refused with a message that
 * names the file and the field (the restore path reads it before it makes anything).
 */
class SnapshotTest {
    private static final long MIB = SnapshotFixture.MIB;
    private static final List<AddressRange> RANGES = SnapshotFixture.RANGES;

    @TempDir
    Path tmp;
    Path dir;
    Path disk;
    VmConfig config;
    VmStateFile state;

    @BeforeEach
    void write() throws Exception {
        SnapshotFixture f = SnapshotFixture.write(tmp);
        dir = f.dir();
        disk = f.disk();
        config = f.config();
        state = f.state();
    }

    @Test
    void whatIsWrittenReadsBackWhole() throws Exception {
        Snapshot.Saved s = Snapshot.read(dir);
        assertThat(s.config()).isEqualTo(config);
        assertThat(s.state()).isEqualTo(state);
        assertThat(s.guestClock()).hasValue(123_456_789L);
        assertThat(s.ranges()).isEqualTo(RANGES);
        assertThat(s.arch()).isEqualTo("x86_64");
        assertThat(s.hypervisor()).isEqualTo("kvm");
        assertThat(s.nimbusVersion()).isEqualTo("1.2.3");
        assertThat(s.disks()).containsExactly(new Snapshot.DiskFile(disk, 8 * MIB));
    }

    @Test
    void aDirectoryHoldingASnapshotIsNeverOverwritten() {
        assertThatThrownBy(() -> Snapshot.prepare(dir)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining("destination_url").hasMessageContaining("already holds a snapshot");
    }

    @Test
    void noManifestIsNoSnapshot() throws Exception {
        Files.delete(dir.resolve(Snapshot.MANIFEST));
        assertThatThrownBy(() -> Snapshot.read(dir)).hasMessageContaining("source_url").hasMessageContaining("holds no snapshot");
    }

    @Test
    void aTruncatedManifestIsRefused() throws Exception {
        truncate(dir.resolve(Snapshot.MANIFEST), 100);
        assertThatThrownBy(() -> Snapshot.read(dir)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining(Snapshot.MANIFEST).hasMessageContaining("truncated or corrupt");
    }

    @Test
    void aTruncatedStateFileIsRefusedBeforeItIsDecoded() throws Exception {
        truncate(dir.resolve(Snapshot.STATE), 20);
        assertThatThrownBy(() -> Snapshot.read(dir)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining(Snapshot.STATE).hasMessageContaining("20 bytes, the manifest says");
    }

    @Test
    void aCorruptStateFileIsRefusedByItsChecksum() throws Exception {
        byte[] b = Files.readAllBytes(dir.resolve(Snapshot.STATE));
        b[b.length - 1] ^= 1;
        Files.write(dir.resolve(Snapshot.STATE), b);
        assertThatThrownBy(() -> Snapshot.read(dir)).hasMessageContaining(Snapshot.STATE).hasMessageContaining("SHA-256");
    }

    @Test
    void aTruncatedMemoryFileIsRefusedNamingBothSizes() throws Exception {
        truncate(dir.resolve(Snapshot.MEMORY), MIB);
        assertThatThrownBy(() -> Snapshot.read(dir)).hasMessageContaining(Snapshot.MEMORY)
                .hasMessageContaining(MIB + " bytes").hasMessageContaining(2 * MIB + " bytes");
    }

    @Test
    void aFormatVersionFromAnotherNimbusIsRefusedNamingBoth() throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode m = (ObjectNode) json.readTree(dir.resolve(Snapshot.MANIFEST).toFile());
        m.put("format_version", 2).put("nimbus_version", "9.0.0");
        Files.write(dir.resolve(Snapshot.MANIFEST), json.writeValueAsBytes(m));
        assertThatThrownBy(() -> Snapshot.read(dir)).hasMessageContaining("format_version 2 is not supported")
                .hasMessageContaining("reads version 1").hasMessageContaining("9.0.0");
    }

    @Test
    void aManifestFieldOfTheWrongTypeIsNamed() throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode m = (ObjectNode) json.readTree(dir.resolve(Snapshot.MANIFEST).toFile());
        m.put("vcpus", "two");
        Files.write(dir.resolve(Snapshot.MANIFEST), json.writeValueAsBytes(m));
        assertThatThrownBy(() -> Snapshot.read(dir)).hasMessageContaining("vcpus: missing or not an integer");
    }

    @Test
    void theHostIsComparedWithTheSnapshot() throws Exception {
        Snapshot.Saved s = Snapshot.read(dir);
        Path net = Files.createDirectories(tmp.resolve("sys-class-net").resolve("snaptest0")).getParent();
        Snapshot.checkHost(s, "x86_64", "kvm", net);

        assertThatThrownBy(() -> Snapshot.checkHost(s, "aarch64", "kvm", net)).hasMessageContaining("x86_64 VM")
                .hasMessageContaining("this host is aarch64");
        assertThatThrownBy(() -> Snapshot.checkHost(s, "x86_64", "mshv", net)).hasMessageContaining("taken on kvm")
                .hasMessageContaining("runs on mshv");
        assertThatThrownBy(() -> Snapshot.checkHost(s, "x86_64", "kvm", tmp.resolve("no-taps")))
                .hasMessageContaining("net[0].tap: 'snaptest0' does not exist");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(16 * MIB);
        }
        assertThatThrownBy(() -> Snapshot.checkHost(s, "x86_64", "kvm", net)).hasMessageContaining("disks[0].path")
                .hasMessageContaining(16 * MIB + " bytes, but was " + 8 * MIB);
        Files.delete(disk);
        assertThatThrownBy(() -> Snapshot.checkHost(s, "x86_64", "kvm", net)).hasMessageContaining("disks[0].path")
                .hasMessageContaining("missing");
    }

    private static void truncate(Path file, long length) throws Exception {
        SnapshotFixture.resize(file, length);
    }
}
