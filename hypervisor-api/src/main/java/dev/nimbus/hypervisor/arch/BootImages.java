package dev.nimbus.hypervisor.arch;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/** What to boot: a kernel image, an optional initramfs and the kernel command line. */
public record BootImages(Path kernel, Optional<Path> initramfs, String cmdline) {
    public BootImages {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initramfs, "initramfs");
        Objects.requireNonNull(cmdline, "cmdline");
    }
}
