package dev.nimbus.conformance.discovery;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorRegistry;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.ArchPlatforms;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.net.URLClassLoader;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Backends and arch platforms are found through ServiceLoader, from whatever jars are on the class path. */
class ServiceDiscoveryTest {
    private static final String HYPERVISOR_SERVICE = "META-INF/services/" + Hypervisor.class.getName();

    /** The class-path entry (jar or classes directory) whose service file lives under {@code module}. */
    private static URL entryOf(String module) throws Exception {
        for (URL u : Collections.list(ServiceDiscoveryTest.class.getClassLoader().getResources(HYPERVISOR_SERVICE))) {
            String s = u.toString();
            if (s.contains("/" + module + "/")) {
                String root = s.substring(0, s.length() - HYPERVISOR_SERVICE.length());
                return java.net.URI.create(root.startsWith("jar:") ? root.substring(4, root.length() - 2) : root).toURL();
            }
        }
        throw new AssertionError("no " + HYPERVISOR_SERVICE + " from module " + module + " on the class path");
    }

    @Test
    @SuppressWarnings("unchecked")
    void withOnlyTheKvmJarOnTheClassPathTheKvmProviderIsFound() throws Exception {
        URL api = Hypervisor.class.getProtectionDomain().getCodeSource().getLocation();
        URL host = dev.nimbus.host.LibC.class.getProtectionDomain().getCodeSource().getLocation();
        try (URLClassLoader isolated = new URLClassLoader(new URL[] {host, api, entryOf("hypervisor-kvm")},
                ClassLoader.getPlatformClassLoader())) {
            // the registry must come from the isolated loader too, or its Hypervisor type would differ
            Class<?> registry = Class.forName(HypervisorRegistry.class.getName(), true, isolated);
            Object found = registry.getMethod("discover", ClassLoader.class).invoke(null, isolated);
            List<Object> all = (List<Object>) registry.getMethod("all").invoke(found);
            Class<?> hypervisor = Class.forName(Hypervisor.class.getName(), true, isolated);
            List<Object> names = all.stream().map(h -> {
                try {
                    return hypervisor.getMethod("name").invoke(h);
                } catch (ReflectiveOperationException e) {
                    throw new AssertionError(e);
                }
            }).toList();
            assertThat(names).containsExactly("kvm");
        }
    }

    @Test
    void theFullClassPathOffersKvmAndMshv() {
        List<String> names = HypervisorRegistry.discover(getClass().getClassLoader()).all().stream()
                .map(Hypervisor::name).toList();
        assertThat(names).containsExactlyInAnyOrder("kvm", "mshv");
    }

    @Test
    void everyArchitectureHasAPlatform() {
        List<Arch> arches = ArchPlatforms.discover(getClass().getClassLoader()).stream().map(ArchPlatform::arch).toList();
        assertThat(arches).containsExactlyInAnyOrder(Arch.X86_64, Arch.AARCH64, Arch.RISCV64);
    }

    @Test
    void theHostArchitecturePicksItsPlatform() {
        assertThat(ArchPlatforms.forArch(Arch.host(), getClass().getClassLoader()).arch()).isEqualTo(Arch.host());
    }

    @Test
    void aMissingPlatformIsReportedWithWhatWasFound() {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], ClassLoader.getPlatformClassLoader())) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ArchPlatforms.forArch(Arch.RISCV64, empty))
                    .hasMessage("no architecture platform for riscv64 on the class path (found: none)");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
