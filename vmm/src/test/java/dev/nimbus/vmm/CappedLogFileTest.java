package dev.nimbus.vmm;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/** A guest that makes the VMM log without end cannot fill the host's disk through {@code --log-file}. */
class CappedLogFileTest {
    @TempDir
    Path dir;

    @AfterEach
    void closeHandlers() {
        for (Handler h : Logger.getLogger("").getHandlers()) {
            h.close();
        }
    }

    @Test
    void aFloodOfLinesKeepsTwoFilesUnderTheLimitWithTheNewestInPlace() throws Exception {
        Path log = dir.resolve("nimbus.log");
        long limit = 16 << 10;
        Logging.configure(0, log, limit);
        System.Logger logger = System.getLogger("dev.nimbus.devices.pci.PciRoot");
        for (int i = 0; i < 5_000; i++) {
            logger.log(System.Logger.Level.WARNING, "conflicting BAR placement number " + i);
        }
        Path older = dir.resolve("nimbus.log.1");
        assertThat(Files.size(log)).isLessThanOrEqualTo(limit);
        assertThat(Files.size(older)).isLessThanOrEqualTo(limit).isGreaterThan(limit / 2);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("nimbus.log", "nimbus.log.1");
        }
        List<String> lines = Files.readAllLines(log);
        assertThat(lines.getLast()).endsWith("WARNING PciRoot: conflicting BAR placement number 4999");
        // the two files hold the newest lines without a gap between them
        List<String> before = Files.readAllLines(older);
        int firstNew = Integer.parseInt(lines.getFirst().replaceAll(".* ", ""));
        assertThat(before.getLast()).endsWith("number " + (firstNew - 1));
    }

    @Test
    void anExistingLogIsAppendedTo() throws Exception {
        Path log = Files.writeString(dir.resolve("nimbus.log"), "an earlier run\n");
        Logging.configure(0, log, 1 << 20);
        System.getLogger("dev.nimbus.vmm.Main").log(System.Logger.Level.WARNING, "this run");
        assertThat(Files.readAllLines(log)).hasSize(2).first().isEqualTo("an earlier run");
    }
}
