package dev.nimbus.vmm.sandbox;

import dev.nimbus.host.Errno;
import dev.nimbus.host.LibC;
import dev.nimbus.host.Landlock;
import dev.nimbus.vmm.config.CommandLineConfig;
import dev.nimbus.vmm.config.VmConfig;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The test-only hook of {@link FileSandboxTest}, run in a JVM of its own (a restriction cannot be undone):
 * reads a command line with {@code --landlock}, enforces its sandbox as the control thread does once a VM is
 * built, then tries to open listed and unlisted files from the enforcing thread, from a thread that was
 * running before and joins, and from a thread made afterwards; prints one {@code what=result} line each.
 *
 * <p>Arguments: kernel, read-only disk, writable disk, a directory given as a read-only rule, a file in it,
 * an unlisted file.
 */
public final class LandlockProbe {
    private LandlockProbe() {}

    public static void main(String[] args) throws Exception {
        Path kernel = Path.of(args[0]);
        Path roDisk = Path.of(args[1]);
        Path rwDisk = Path.of(args[2]);
        Path ruleDir = Path.of(args[3]);
        Path inRuleDir = Path.of(args[4]);
        Path unlisted = Path.of(args[5]);
        VmConfig config = CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString()),
                "--disk", List.of("path=" + roDisk + ",readonly=on", "path=" + rwDisk),
                "--landlock", List.of(""), "--landlock-rules", List.of("path=" + ruleDir + ",access=r")));

        CountDownLatch enforced = new CountDownLatch(1);
        AtomicReference<String> early = new AtomicReference<>();
        Thread before = Thread.ofPlatform().name("before").daemon(true).start(() -> { // no hang if main fails
            try {
                enforced.await();
            } catch (InterruptedException e) {
                return;
            }
            String notJoined = open(unlisted, LibC.O_RDONLY);
            Landlock.joinEnforced();
            early.set("before.unlisted.notJoined=" + notJoined + "\nbefore.unlisted=" + open(unlisted, LibC.O_RDONLY)
                    + "\nbefore.kernel=" + open(kernel, LibC.O_RDONLY));
        });

        FileSandbox.enforce(config, FileSandbox.ProcessFiles.NONE);
        enforced.countDown();
        before.join();

        StringBuilder out = new StringBuilder();
        out.append("abi=").append(Landlock.abiVersion()).append('\n');
        out.append("kernel.read=").append(open(kernel, LibC.O_RDONLY)).append('\n');
        out.append("kernel.write=").append(open(kernel, LibC.O_WRONLY)).append('\n');
        out.append("roDisk.read=").append(open(roDisk, LibC.O_RDONLY)).append('\n');
        out.append("roDisk.write=").append(open(roDisk, LibC.O_RDWR)).append('\n');
        out.append("rwDisk.write=").append(open(rwDisk, LibC.O_RDWR)).append('\n');
        out.append("rule.read=").append(open(inRuleDir, LibC.O_RDONLY)).append('\n');
        out.append("rule.write=").append(open(inRuleDir, LibC.O_WRONLY)).append('\n');
        out.append("unlisted=").append(open(unlisted, LibC.O_RDONLY)).append('\n');
        out.append(early.get()).append('\n');
        AtomicReference<String> late = new AtomicReference<>();
        Thread after = Thread.ofPlatform().name("after").start(() -> late.set(open(unlisted, LibC.O_RDONLY)));
        after.join();
        out.append("after.unlisted=").append(late.get()).append('\n');
        // the JVM still loads what it has not loaded yet, from its home
        out.append("jvm.class=").append(new java.util.zip.CRC32C().getClass().getSimpleName()).append('\n');
        System.out.print(out);
        System.out.flush();
    }

    private static String open(Path p, int flags) {
        int fd = LibC.openErrno(p.toString(), flags | LibC.O_CLOEXEC);
        if (fd >= 0) {
            LibC.close(fd);
            return "ok";
        }
        return -fd == Errno.EACCES ? "EACCES" : Errno.describe(-fd);
    }
}
