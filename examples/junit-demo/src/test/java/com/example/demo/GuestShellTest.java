package com.example.demo;

import dev.nimbus.api.ExitReason;
import dev.nimbus.api.MicroVm;
import dev.nimbus.junit.Boot;
import dev.nimbus.junit.MicroVmTest;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Boots a Linux microVM with two vCPUs and its root file system on a virtio-blk disk, waits for its init,
 * types a command on its serial console, reads the answer and shuts it down.
 */
@MicroVmTest
class GuestShellTest {
    /** The guest: kernel, initramfs and a private copy of the root disk, named by system properties. */
    static MicroVm.Builder guest() throws IOException {
        Path root = Files.createTempFile("junit-demo-root", ".ext4");
        root.toFile().deleteOnExit();
        Files.copy(Path.of(System.getProperty("nimbus.rootfs")), root, StandardCopyOption.REPLACE_EXISTING);
        return MicroVm.builder()
                .kernel(Path.of(System.getProperty("nimbus.kernel")))
                .initramfs(Path.of(System.getProperty("nimbus.initramfs")))
                .cmdline("console=ttyS0 quiet panic=-1 nimbus.root=/dev/vda nimbus.test=shell")
                .disk(root);
    }

    @Test
    void theGuestAnswersOnItsConsole(
            @Boot(builder = "guest", cpus = 2, memoryMib = 512, awaitLine = "NIMBUS-E2E-UP") MicroVm vm) {
        vm.serial().awaitLine("SHELL-READY", Duration.ofSeconds(60));

        vm.serial().write("echo ANSWER=$((6 * 7)) CPUS=$(nproc) ROOT=$(awk '$2 == \"/\" { print $1 }' /proc/mounts)\n");
        String answer = vm.serial().awaitLine("^ANSWER=", Duration.ofSeconds(60));
        assertEquals("ANSWER=42 CPUS=2 ROOT=/dev/vda", answer);

        vm.shutdown();
        assertEquals(new ExitReason.PoweredOff("vm.shutdown"), vm.exit().join());
    }
}
