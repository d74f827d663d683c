package dev.nimbus.vmm.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code --memory size=SIZE[,shared=on][,hugepages=on][,hugepage_size=SIZE][,prefault=on][,thp=off][,mergeable=on]}
 * ({@code memory} in VmConfig JSON): the guest's RAM and how the host backs it ({@code MemoryBacking}).
 */
public record MemoryConfig(long size, boolean shared, boolean hugepages, Optional<Long> hugepageSize, boolean prefault,
                           boolean thp, boolean mergeable) {
    /** {@code size} bytes with Cloud Hypervisor's default backing. */
    public MemoryConfig(long size) {
        this(size, false, false, Optional.empty(), false, true, false);
    }

    /** The smallest guest Nimbus agrees to build: below this a Linux kernel cannot even unpack itself. */
    public static final long MIN_SIZE = 32L << 20;
    /** Cloud Hypervisor's default: 512 MiB. */
    public static final MemoryConfig DEFAULT = new MemoryConfig(512L << 20);

    /** One {@code --memory} value. */
    public static MemoryConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.MEMORY, text));
    }

    /** The section's values from either front end, with the checks across its fields (Cloud Hypervisor's). */
    public static MemoryConfig from(Values v) throws ConfigException {
        long size = v.get(Schema.MEMORY_SIZE);
        boolean shared = v.get(Schema.MEMORY_SHARED);
        boolean hugepages = v.get(Schema.MEMORY_HUGEPAGES);
        boolean mergeable = v.get(Schema.MEMORY_MERGEABLE);
        Optional<Long> hugepageSize = v.find(Schema.MEMORY_HUGEPAGE_SIZE);
        if (shared && mergeable) {
            throw v.wrong(Schema.MEMORY_MERGEABLE, "cannot be combined with shared memory");
        }
        if (hugepageSize.isPresent() && !hugepages) {
            throw v.wrong(Schema.MEMORY_HUGEPAGE_SIZE, "needs hugepages on");
        }
        long page = hugepageSize.orElseGet(MemoryConfig::hostHugePageSize);
        if (hugepages && size % page != 0) {
            throw v.wrong(Schema.MEMORY_SIZE, size + " bytes is not a whole number of " + page + "-byte huge pages");
        }
        return new MemoryConfig(size, shared, hugepages, hugepageSize, v.get(Schema.MEMORY_PREFAULT), v.get(Schema.MEMORY_THP),
                mergeable);
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

    /**
     * The host's default huge page size ({@code Hugepagesize} in {@code /proc/meminfo}: 2 MiB on x86-64, but
     * 512 MiB on an arm64 host with 64 KiB pages), which backs the guest when {@code hugepage_size} is not
     * given; 2 MiB when it cannot be read.
     */
    static long hostHugePageSize() {
        try {
            return hugePageSize(Files.readString(Path.of("/proc/meminfo")));
        } catch (IOException e) {
            return 2L << 20;
        }
    }

    /** {@code Hugepagesize} of a {@code /proc/meminfo} text, in bytes; 2 MiB where it has none. */
    static long hugePageSize(String meminfo) {
        for (String line : meminfo.split("\n")) {
            if (line.startsWith("Hugepagesize:")) {
                String kib = line.replaceAll("[^0-9]", "");
                if (!kib.isEmpty()) {
                    return Long.parseLong(kib) << 10;
                }
            }
        }
        return 2L << 20;
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
