package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/**
 * Snapshot and restore of an AArch64 guest (GICv3 with its ITS, the arch timer) with virtio-blk, virtio-net
 * and a serial console (PL011), end to end on KVM ({@link E2eSnapshot}); two vCPUs.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "aarch64|arm64")
class Aarch64SnapshotTest {
    @Test
    void aSnapshottedGuestRestoresTwiceAndGoesOnCountingWithItsClockDiskAndNetwork(@TempDir Path dir) throws Exception {
        E2eSnapshot.Times t = new E2eSnapshot(GuestImages.forArch("aarch64"), "kernel.image", 10, 2).run(dir);
        System.out.println("SNAPSHOT-TIMES aarch64 cold-boot-to-first-count=" + t.coldBootMillis() + "ms restores=" + t.restoreMillis());
    }
}
