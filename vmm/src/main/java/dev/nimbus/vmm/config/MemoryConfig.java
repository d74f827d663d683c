package dev.nimbus.vmm.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** {@code --memory size=SIZE}: the guest's RAM. */
public record MemoryConfig(long size) {
    static final Set<String> KEYS = Set.of("size");
    static final Set<String> UNSUPPORTED = Set.of("mergeable", "shared", "hugepages", "hugepage_size", "hotplug_method",
            "hotplug_size", "hotplugged_size", "prefault", "thp");
    /** The smallest guest Nimbus agrees to build: below this a Linux kernel cannot even unpack itself. */
    public static final long MIN_SIZE = 32L << 20;
    /** Cloud Hypervisor's default: 512 MiB. */
    public static final MemoryConfig DEFAULT = new MemoryConfig(512L << 20);

    public static MemoryConfig parse(String text) throws ConfigException {
        OptionList o = OptionList.parse("--memory", text, KEYS, UNSUPPORTED, Set.of());
        if (!o.has("size")) {
            throw new ConfigException("--memory: size= is required (for example size=512M)");
        }
        return of(o.size("size", 0));
    }

    /** The checks every source of a memory configuration goes through (the command line, {@code vm.create}). */
    public static MemoryConfig of(long size) throws ConfigException {
        return of(size, hostBackable());
    }

    /**
     * The same checks, against {@code backable} bytes the host can give a guest: a guest larger than the host's
     * RAM and swap together can never have all its memory, and mapping one fails with ENOMEM or dies later,
     * so it is refused here as a configuration error before anything is built.
     */
    static MemoryConfig of(long size, long backable) throws ConfigException {
        if (size > backable) {
            throw new ConfigException(Setting.MEMORY_SIZE, size + " bytes is more than this host's RAM and swap together ("
                    + backable + " bytes)");
        }
        if (size < MIN_SIZE) {
            throw new ConfigException(Setting.MEMORY_SIZE, size + " bytes is too small (at least 32M)");
        }
        if (size % 4096 != 0) {
            throw new ConfigException(Setting.MEMORY_SIZE, size + " bytes is not a multiple of 4K");
        }
        return new MemoryConfig(size);
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
