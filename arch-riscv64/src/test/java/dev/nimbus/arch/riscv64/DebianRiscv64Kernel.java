package dev.nimbus.arch.riscv64;

import dev.nimbus.testsupport.HostTools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Debian's riscv64 kernel, the one the riscv64 L1 guest runs: {@code conformance-tests/l1/guest-image kernel
 * --arch riscv64} unpacks the package into its cache (downloading it the first time) and prints the path of
 * {@code boot/Image-<version>}, a copy of the package's own {@code boot/vmlinux-<version>}, which despite its
 * name is the uncompressed {@code Image} (with an EFI stub), exactly as Debian ships it.
 */
public final class DebianRiscv64Kernel {
    private DebianRiscv64Kernel() {}

    private static Path image;

    /** {@code boot/Image-<version>}. */
    public static synchronized Path image() {
        if (image == null) {
            HostTools.Result r = HostTools.runSeparately(List.of("bash", HostTools.repositoryRoot().resolve("conformance-tests/l1/guest-image").toString(),
                    "kernel", "--arch", "riscv64"));
            if (r.exit() != 0) {
                throw new IllegalStateException("guest-image kernel --arch riscv64 failed:\n" + r.err());
            }
            Path p = Path.of(r.out().strip().lines().reduce((a, b) -> b).orElseThrow());
            if (!Files.isRegularFile(p)) {
                throw new IllegalStateException("guest-image printed " + p + ", which is not a file");
            }
            image = p;
        }
        return image;
    }

    /** {@code boot/vmlinux-<version>}, the file as the Debian package ships it. */
    public static Path asShipped() {
        Path img = image();
        return img.resolveSibling(img.getFileName().toString().replaceFirst("^Image-", "vmlinux-"));
    }
}
