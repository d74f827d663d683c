package dev.nimbus.hypervisor.arch;

import dev.nimbus.hypervisor.Arch;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds the {@link ArchPlatform} for an architecture among those on the class path. */
public final class ArchPlatforms {
    private ArchPlatforms() {}

    /** Every platform {@link ServiceLoader} finds through {@code loader}. */
    public static List<ArchPlatform> discover(ClassLoader loader) {
        List<ArchPlatform> list = new ArrayList<>();
        ServiceLoader.load(ArchPlatform.class, loader).forEach(list::add);
        return list;
    }

    /** The platform for {@code arch}, or an error that says which platforms were found. */
    public static ArchPlatform forArch(Arch arch, ClassLoader loader) {
        List<ArchPlatform> all = discover(loader);
        return all.stream().filter(p -> p.arch() == arch).findFirst().orElseThrow(() ->
                new IllegalStateException("no architecture platform for " + arch.id() + " on the class path (found: "
                        + (all.isEmpty() ? "none" : all.stream().map(p -> p.arch().id()).toList()) + ")"));
    }
}
