package dev.nimbus.arch.aarch64;

import dev.nimbus.testsupport.HostTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Debian's arm64 kernel, the one the AArch64 L1 guest and the end-to-end tests run: the uncompressed
 * {@code Image} that {@code conformance-tests/l1/guest-image kernel --arch aarch64} unpacks into its cache
 * (downloading the package the first time), and the package's own {@code vmlinuz} beside it.
 */
public final class DebianArm64Kernel {
    private DebianArm64Kernel() {}

    private static Path image;

    /** {@code boot/Image-<version>}. */
    public static synchronized Path image() {
        if (image == null) {
            HostTools.Result r = HostTools.runSeparately(List.of("bash", HostTools.repositoryRoot().resolve("conformance-tests/l1/guest-image").toString(),
                    "kernel", "--arch", "aarch64"));
            if (r.exit() != 0) {
                throw new IllegalStateException("guest-image kernel --arch aarch64 failed:\n" + r.err());
            }
            Path p = Path.of(r.out().strip().lines().reduce((a, b) -> b).orElseThrow());
            if (!Files.isRegularFile(p)) {
                throw new IllegalStateException("guest-image printed " + p + ", which is not a file");
            }
            image = p;
        }
        return image;
    }

    /** {@code boot/vmlinuz-<version>}, as the Debian package ships it. */
    public static Path vmlinuz() {
        Path img = image();
        return img.resolveSibling(img.getFileName().toString().replaceFirst("^Image-", "vmlinuz-"));
    }
}
