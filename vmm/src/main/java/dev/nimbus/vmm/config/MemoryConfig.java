package dev.nimbus.vmm.config;

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
        if (size < MIN_SIZE) {
            throw new ConfigException(Setting.MEMORY_SIZE, size + " bytes is too small (at least 32M)");
        }
        if (size % 4096 != 0) {
            throw new ConfigException(Setting.MEMORY_SIZE, size + " bytes is not a multiple of 4K");
        }
        return new MemoryConfig(size);
    }
}
