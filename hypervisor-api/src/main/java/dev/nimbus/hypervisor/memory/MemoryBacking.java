package dev.nimbus.hypervisor.memory;

/**
 * How guest RAM is backed on the host (Cloud Hypervisor's memory options):
 * <ul>
 *   <li>{@code shared}: a memfd mapped shared (another process, such as a vhost-user backend, can map it),
 *       instead of private anonymous memory;</li>
 *   <li>{@code hugepages}: hugetlbfs pages (a hugetlb memfd), of {@code hugepageSize} bytes or the
 *       kernel's default when 0; the host must have them reserved;</li>
 *   <li>{@code prefault}: every page faulted in when mapped ({@code MAP_POPULATE}), not when the guest first
 *       touches it;</li>
 *   <li>{@code thp}: transparent huge pages asked for ({@code MADV_HUGEPAGE}) on private anonymous RAM, or
 *       refused ({@code MADV_NOHUGEPAGE}) when off;</li>
 *   <li>{@code mergeable}: the pages offered to KSM ({@code MADV_MERGEABLE}).</li>
 * </ul>
 */
public record MemoryBacking(boolean shared, boolean hugepages, long hugepageSize, boolean prefault, boolean thp,
                            boolean mergeable) {
    /** Cloud Hypervisor's defaults: private anonymous memory, transparent huge pages asked for. */
    public static final MemoryBacking DEFAULT = new MemoryBacking(false, false, 0, false, true, false);

    public MemoryBacking {
        if (hugepageSize < 0 || (hugepageSize != 0 && Long.bitCount(hugepageSize) != 1)) {
            throw new IllegalArgumentException("a huge page size is a power of two: " + hugepageSize);
        }
    }

    /**
     * Backing that could not be had, naming the option responsible as Cloud Hypervisor names it
     * ({@code hugepages}, {@code mergeable}, {@code shared}, {@code prefault}, {@code size}).
     */
    public static final class Unavailable extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String option;

        public Unavailable(String option, String message, Throwable cause) {
            super(message, cause);
            this.option = option;
        }

        /** The memory option that asked for what the host could not give. */
        public String option() {
            return option;
        }
    }
}
