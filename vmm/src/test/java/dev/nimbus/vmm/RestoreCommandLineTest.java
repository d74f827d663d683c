package dev.nimbus.vmm;

import dev.nimbus.vmm.snapshot.Snapshot;
import dev.nimbus.vmm.snapshot.SnapshotFixture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code nimbus --restore} with a bad snapshot, on any host: the snapshot is input, read and checked before a
 * backend is chosen, so each fault is exit 2 and one line naming the file or field, with or without a
 * hypervisor. (The named tap of the fixture does not exist here: each case below fails before that check but
 * the last, which is that check.)
 */
class RestoreCommandLineTest {
    @TempDir
    Path tmp;
    private SnapshotFixture snapshot;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void write() throws Exception {
        snapshot = SnapshotFixture.write(tmp);
    }

    private int restore(String value) {
        return Main.run(new String[] {"--restore", value}, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private String url() {
        return "source_url=" + snapshot.dir().toUri();
    }

    @Test
    void aTruncatedMemoryFileIsExit2NamingIt() throws Exception {
        SnapshotFixture.resize(snapshot.dir().resolve(Snapshot.MEMORY), SnapshotFixture.MIB);
        assertThat(restore(url())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).startsWith("nimbus: --restore: " + snapshot.dir().resolve(Snapshot.MEMORY) + ": 1048576 bytes")
                .contains("truncated").hasLineCount(1);
    }

    @Test
    void aTruncatedStateFileIsExit2NamingIt() throws Exception {
        SnapshotFixture.resize(snapshot.dir().resolve(Snapshot.STATE), 10);
        assertThat(restore(url())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains(Snapshot.STATE + ": 10 bytes, the manifest says").hasLineCount(1);
    }

    @Test
    void anotherFormatVersionIsExit2NamingBoth() throws Exception {
        Path manifest = snapshot.dir().resolve(Snapshot.MANIFEST);
        Files.writeString(manifest, Files.readString(manifest).replaceFirst("\"format_version\" : 1", "\"format_version\" : 7"));
        assertThat(restore(url())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("format_version 7 is not supported", "reads version 1", "Nimbus 1.2.3").hasLineCount(1);
    }

    @Test
    void aDiskOfAnotherSizeIsExit2NamingTheField() throws Exception {
        SnapshotFixture.resize(snapshot.disk(), 9 * SnapshotFixture.MIB);
        assertThat(restore(url())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("disks[0].path: " + snapshot.disk() + " is 9437184 bytes, but was 8388608").hasLineCount(1);
    }

    @Test
    void aMissingTapIsExit2NamingIt() {
        assertThat(Path.of("/sys/class/net", SnapshotFixture.TAP)).doesNotExist();
        assertThat(restore(url())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("net[0].tap: '" + SnapshotFixture.TAP + "' does not exist on this host").hasLineCount(1);
    }

    @Test
    void noSnapshotAndAUrlThatIsNotAFileUrlAreExit2() {
        assertThat(restore("source_url=" + tmp.resolve("nothing").toUri())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("holds no snapshot (no snapshot.json)");
        err.getBuffer().setLength(0);
        assertThat(restore("source_url=http://example.com/snap")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("source_url", "is not a file:// URL");
    }

    @Test
    void vmOptionsCannotBeGivenWithRestore() {
        assertThat(Main.run(new String[] {"--restore", url(), "--memory", "size=1G"}, new PrintWriter(out, true),
                new PrintWriter(err, true))).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("--restore: the VM's configuration comes from the snapshot; --memory cannot be given with it");
    }
}
