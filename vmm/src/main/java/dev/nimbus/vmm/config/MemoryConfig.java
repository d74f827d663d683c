package dev.nimbus.vmm.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --memory size=SIZE} ({@code memory} in VmConfig JSON): the guest's RAM. */
public record MemoryConfig(long size) {
    /** The smallest guest Nimbus agrees to build: below this a Linux kernel cannot even unpack itself. */
    public static final long MIN_SIZE = 32L << 20;
    /** Cloud Hypervisor's default: 512 MiB. */
    public static final MemoryConfig DEFAULT = new MemoryConfig(512L << 20);

    /** One {@code --memory} value. */
    public static MemoryConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.MEMORY, text));
    }

    /** The section's values from either front end. */
    public static MemoryConfig from(Values v) {
        return new MemoryConfig(v.get(Schema.MEMORY_SIZE));
    }

    /** The host's check on a size (the schema applies it): see {@link #hostProblem(long, long)}. */
    static String hostProblem(long size) {
        return hostProblem(size, hostBackable());
    }

    /**
     * A guest larger than the {@code backable} bytes the host's RAM and swap hold together can never have all
     * its memory, and mapping one fails with ENOMEM or dies later: refused as a configuration error before
     * anything is built. Null when the size fits.
     */
    static String hostProblem(long size, long backable) {
        return size > backable ? size + " bytes is more than this host's RAM and swap together (" + backable + " bytes)" : null;
    }

    /** MemTotal plus SwapTotal of {@code /proc/meminfo}, in bytes; no bound when it cannot be read. */
    static long hostBackable() {
        try {
            long kib = 0;
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:") || line.startsWith("SwapTotal:")) {
                    kib += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            return kib == 0 ? Long.MAX_VALUE : kib << 10;
        } catch (IOException | NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }
}
