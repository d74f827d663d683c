package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * {@code --serial} and {@code --console}: where a guest console goes. {@code off} removes the device,
 * {@code null} keeps it and drops its output, {@code tty} connects it to Nimbus's terminal,
 * {@code file=PATH} writes its output to a file.
 */
public record ConsoleConfig(Mode mode, Optional<Path> file) {
    /** The console modes. */
    public enum Mode { OFF, NULL, TTY, FILE }

    static final Set<String> BARE = Set.of("off", "null", "tty", "pty");
    static final Set<String> KEYS = Set.of("file");
    static final Set<String> UNSUPPORTED = Set.of("socket", "iommu");

    public static ConsoleConfig parse(String option, String text) throws ConfigException {
        OptionList o = OptionList.parse(option, text, KEYS, UNSUPPORTED, BARE);
        if (o.bare().isPresent()) {
            return switch (o.bare().get()) {
                case "off" -> new ConsoleConfig(Mode.OFF, Optional.empty());
                case "null" -> new ConsoleConfig(Mode.NULL, Optional.empty());
                case "tty" -> new ConsoleConfig(Mode.TTY, Optional.empty());
                default -> throw new ConfigException(option + " " + o.bare().get() + ": not supported yet");
            };
        }
        return new ConsoleConfig(Mode.FILE, Optional.of(Path.of(o.string("file").orElseThrow())));
    }

    public static ConsoleConfig of(Mode mode) {
        return new ConsoleConfig(mode, Optional.empty());
    }
}
