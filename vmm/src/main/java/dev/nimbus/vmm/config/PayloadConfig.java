package dev.nimbus.vmm.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** {@code --kernel}, {@code --initramfs}, {@code --cmdline}: what the guest boots. */
public record PayloadConfig(Path kernel, Optional<Path> initramfs, String cmdline) {
    /** Checks the files are there and readable, so a typo is reported before anything is built. */
    public static PayloadConfig of(String kernel, String initramfs, String cmdline) throws ConfigException {
        if (kernel == null || kernel.isBlank()) {
            throw new ConfigException("--kernel: a kernel image is required");
        }
        Path k = readableFile("--kernel", kernel);
        Optional<Path> i = initramfs == null ? Optional.empty() : Optional.of(readableFile("--initramfs", initramfs));
        String c = cmdline == null ? "" : cmdline;
        if (c.indexOf('\0') >= 0) {
            throw new ConfigException("--cmdline: contains a NUL character");
        }
        return new PayloadConfig(k, i, c);
    }

    /** {@code --firmware PATH}: checked like the kernel. */
    public static Path firmware(String path) throws ConfigException {
        return readableFile("--firmware", path);
    }

    private static Path readableFile(String option, String name) throws ConfigException {
        Path p = Path.of(name);
        if (!Files.exists(p)) {
            throw new ConfigException(option + ": " + name + ": no such file");
        }
        if (!Files.isRegularFile(p)) {
            throw new ConfigException(option + ": " + name + ": not a regular file");
        }
        if (!Files.isReadable(p)) {
            throw new ConfigException(option + ": " + name + ": not readable");
        }
        return p;
    }
}
