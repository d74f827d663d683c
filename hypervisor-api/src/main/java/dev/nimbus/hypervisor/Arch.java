package dev.nimbus.hypervisor;

import java.util.Locale;

/** The instruction-set architectures Nimbus runs guests on. A guest's architecture is always the host's. */
public enum Arch {
    X86_64("x86_64"),
    AARCH64("aarch64"),
    RISCV64("riscv64");

    private final String id;

    Arch(String id) {
        this.id = id;
    }

    /** The name used on the command line, in module names and in the L1 rig: {@code x86_64}, {@code aarch64}, {@code riscv64}. */
    public String id() {
        return id;
    }

    /** The architecture of the JVM that runs this code. */
    public static Arch host() {
        return fromOsArch(System.getProperty("os.arch"));
    }

    /** Maps a {@code os.arch} value ({@code amd64}, {@code aarch64}, ...) to an {@link Arch}. */
    public static Arch fromOsArch(String osArch) {
        return switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64" -> X86_64;
            case "aarch64", "arm64" -> AARCH64;
            case "riscv64" -> RISCV64;
            default -> throw new IllegalArgumentException("unsupported host architecture: " + osArch);
        };
    }
}
