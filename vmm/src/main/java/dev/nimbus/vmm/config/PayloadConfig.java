package dev.nimbus.vmm.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** {@code --kernel}, {@code --initramfs}, {@code --cmdline}: what the guest boots. */
public record PayloadConfig(Path kernel, Optional<Path> initramfs, String cmdline) {
    /** Checks the files are there and readable, so a typo is reported before anything is built. */
    public static PayloadConfig of(String kernel, String initramfs, String cmdline) throws ConfigException {
        if (kernel == null || kernel.isBlank()) {
            throw new ConfigException(Setting.KERNEL, "a kernel image is required");
        }
        Path k = readableFile(Setting.KERNEL, kernel);
        Optional<Path> i = initramfs == null ? Optional.empty() : Optional.of(readableFile(Setting.INITRAMFS, initramfs));
        String c = cmdline == null ? "" : cmdline;
        if (c.indexOf('\0') >= 0) {
            throw new ConfigException(Setting.CMDLINE, "contains a NUL character");
        }
        return new PayloadConfig(k, i, c);
    }

    /** {@code --firmware PATH}: checked like the kernel. */
    public static Path firmware(String path) throws ConfigException {
        String problem = fileProblem(Path.of(path));
        if (problem != null) {
            throw new ConfigException("--firmware: " + path + ": " + problem);
        }
        return Path.of(path);
    }

    private static Path readableFile(Setting setting, String name) throws ConfigException {
        String problem = fileProblem(Path.of(name));
        if (problem != null) {
            throw new ConfigException(setting, name + ": " + problem);
        }
        return Path.of(name);
    }

    /** What keeps {@code p} from being read as an image, or null when nothing does. */
    private static String fileProblem(Path p) {
        if (!Files.exists(p)) {
            return "no such file";
        }
        if (!Files.isRegularFile(p)) {
            return "not a regular file";
        }
        if (!Files.isReadable(p)) {
            return "not readable";
        }
        return null;
    }
}
