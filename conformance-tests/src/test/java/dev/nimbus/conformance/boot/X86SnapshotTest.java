package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/**
 * Snapshot and restore of an x86-64 guest with virtio-blk, virtio-net and a serial console, end to end on KVM
 * ({@link E2eSnapshot}); one vCPU, as the other x86-64 virtio guests of the L1 rig (see {@link E2eVirtio}).
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class X86SnapshotTest {
    @Test
    void aSnapshottedGuestRestoresTwiceAndGoesOnCountingWithItsClockDiskAndNetwork(@TempDir Path dir) throws Exception {
        E2eSnapshot.Times t = new E2eSnapshot(GuestImages.forArch("x86_64"), "kernel.bzimage", 8, 1).run(dir);
        System.out.println("SNAPSHOT-TIMES x86_64 cold-boot-to-first-count=" + t.coldBootMillis() + "ms restores=" + t.restoreMillis());
    }
}
