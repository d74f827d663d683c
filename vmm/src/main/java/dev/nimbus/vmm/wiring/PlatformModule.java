package dev.nimbus.vmm.wiring;

import dagger.Module;
import dagger.Provides;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorRegistry;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.ArchPlatforms;

import javax.inject.Singleton;

/**
 * Binds the hypervisor backend and the architecture platform. Both are found through
 * {@link java.util.ServiceLoader}: the VMM is compiled against the SPI only, so this module is the one
 * place that decides which implementation runs.
 */
@Module
public final class PlatformModule {
    private PlatformModule() {}

    @Provides
    @Singleton
    static HypervisorRegistry registry() {
        return HypervisorRegistry.discover(PlatformModule.class.getClassLoader());
    }

    @Provides
    @Singleton
    static Hypervisor hypervisor(HypervisorRegistry registry, HypervisorChoice choice) {
        return registry.select(choice.name());
    }

    @Provides
    @Singleton
    static Arch arch() {
        return Arch.host();
    }

    @Provides
    @Singleton
    static ArchPlatform archPlatform(Arch arch) {
        return ArchPlatforms.forArch(arch, PlatformModule.class.getClassLoader());
    }
}
