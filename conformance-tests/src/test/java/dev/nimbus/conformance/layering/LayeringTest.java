package dev.nimbus.conformance.layering;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import dev.nimbus.arch.aarch64.layeringfixture.ArchUsingBackend;
import dev.nimbus.arch.x86_64.layeringfixture.ArchUsingForeignMemory;
import dev.nimbus.devices.layeringfixture.DeviceBranchingOnArch;
import dev.nimbus.devices.layeringfixture.DeviceUsingKvm;
import dev.nimbus.hypervisor.layeringfixture.ApiUsingVmm;
import dev.nimbus.host.layeringfixture.HostUsingSpi;
import dev.nimbus.arch.riscv64.layeringfixture.ArchUsingHost;
import dev.nimbus.arch.riscv64.layeringfixture.ArchUsingAnotherArch;
import dev.nimbus.arch.fdt.layeringfixture.FdtKnowingAMachine;
import dev.nimbus.junit.layeringfixture.ExtensionUsingTheVmm;
import dev.nimbus.kvm.layeringfixture.KvmUsingMshv;
import dev.nimbus.vmm.layeringfixture.VmmUsingTheEmbeddingApi;
import dev.nimbus.vmm.layeringfixture.VmmMakingADevice;
import dev.nimbus.vmm.layeringfixture.VmmMakingADeviceByFactory;
import dev.nimbus.vmm.layeringfixture.VmmPuttingADeviceOnABus;
import dev.nimbus.vmm.layeringfixture.ConfigKeyOutsideTheSchema;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Holds the module layering over the production classes of every module. */
class LayeringTest {
    private static JavaClasses production;

    @BeforeAll
    static void importProductionClasses() {
        production = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.nimbus");
    }

    @ParameterizedTest(name = "classes of {0} were imported")
    @ValueSource(strings = {"dev.nimbus.hypervisor", "dev.nimbus.host", "dev.nimbus.hypervisor.memory",
        "dev.nimbus.kvm", "dev.nimbus.mshv", "dev.nimbus.arch.x86_64", "dev.nimbus.arch.aarch64",
        "dev.nimbus.arch.riscv64", "dev.nimbus.arch.fdt", "dev.nimbus.devices", "dev.nimbus.vmm", "dev.nimbus.api",
        "dev.nimbus.junit"})
    void everyModuleIsImported(String pkg) {
        // a rule over an empty class set proves nothing: make sure each module's classes are really there
        assertThat(production.stream().map(JavaClass::getPackageName))
                .anyMatch(p -> p.equals(pkg) || p.startsWith(pkg + "."));
    }

    @Test
    void fixturesAreNotPartOfTheProductionImport() {
        assertThat(production.contain(DeviceUsingKvm.class)).isFalse();
    }

    @Test
    void hostLayerIsJdkOnly() {
        LayeringRules.HOST_IS_JDK_ONLY.check(production);
    }

    @Test
    void apiIsTheContractOnly() {
        LayeringRules.API_IS_THE_CONTRACT_ONLY.check(production);
    }

    @Test
    void archPlatformsDoNotUseTheHostLayer() {
        LayeringRules.ARCH_USES_NO_HOST_LAYER.check(production);
    }

    @Test
    void kvmBackendKnowsOnlyTheSpi() {
        LayeringRules.BACKENDS_ARE_INDEPENDENT.check(production);
    }

    @Test
    void mshvBackendKnowsOnlyTheSpi() {
        LayeringRules.MSHV_IS_INDEPENDENT.check(production);
    }

    @Test
    void archPlatformsUseNoBackend() {
        LayeringRules.ARCH_USES_NO_BACKEND.check(production);
    }

    @Test
    void archModulesAreIndependent() {
        LayeringRules.ARCH_MODULES_ARE_INDEPENDENT.check(production);
    }

    @Test
    void theSharedDeviceTreeWriterKnowsNoMachine() {
        LayeringRules.FDT_KNOWS_NO_MACHINE.check(production);
    }

    @Test
    void devicesUseNoBackend() {
        LayeringRules.DEVICES_USE_NO_BACKEND.check(production);
    }

    @Test
    void nothingDependsOnTheVmm() {
        LayeringRules.NOTHING_DEPENDS_ON_VMM.check(production);
    }

    @Test
    void nothingInsideUsesTheEmbeddingApi() {
        LayeringRules.NOTHING_INSIDE_USES_THE_EMBEDDING_API.check(production);
    }

    @Test
    void theJunitExtensionUsesThePublicApiOnly() {
        LayeringRules.THE_JUNIT_EXTENSION_USES_THE_PUBLIC_API_ONLY.check(production);
    }

    @Test
    void foreignMemoryStaysAtTheNativeEdge() {
        LayeringRules.FOREIGN_ONLY_AT_THE_NATIVE_EDGE.check(production);
    }

    @Test
    void spiDevicesAndVmmHaveNoArchitectureBranches() {
        LayeringRules.NO_ARCH_BRANCHES_OUTSIDE_ARCH_AND_BACKENDS.check(production);
    }

    @Test
    void onlyTheDeviceManagerMakesDevicesAndPutsThemOnBuses() {
        LayeringRules.ONLY_THE_DEVICE_MANAGER_MAKES_DEVICES.check(production);
    }

    @Test
    void configKeysAreDeclaredOnlyInTheSchema() {
        LayeringRules.CONFIG_KEYS_ONLY_IN_THE_SCHEMA.check(production);
    }

    // Each rule must catch a real violation: the fixtures below sit in governed packages and break one rule each.

    private static boolean violated(ArchRule rule, Class<?>... classes) {
        return rule.evaluate(new ClassFileImporter().importClasses(classes)).hasViolation();
    }

    @Test
    void apiRuleCatchesTheApiUsingTheVmm() {
        assertThat(violated(LayeringRules.API_IS_THE_CONTRACT_ONLY, ApiUsingVmm.class)).isTrue();
    }

    @Test
    void hostRuleCatchesTheHostLayerUsingTheSpi() {
        assertThat(violated(LayeringRules.HOST_IS_JDK_ONLY, HostUsingSpi.class)).isTrue();
    }

    @Test
    void archHostRuleCatchesAnArchPlatformMakingSystemCalls() {
        assertThat(violated(LayeringRules.ARCH_USES_NO_HOST_LAYER, ArchUsingHost.class)).isTrue();
    }

    @Test
    void backendRuleCatchesKvmUsingMshv() {
        assertThat(violated(LayeringRules.BACKENDS_ARE_INDEPENDENT, KvmUsingMshv.class)).isTrue();
    }

    @Test
    void archRuleCatchesAnArchPlatformUsingABackend() {
        assertThat(violated(LayeringRules.ARCH_USES_NO_BACKEND, ArchUsingBackend.class)).isTrue();
    }

    @Test
    void archIndependenceRuleCatchesRiscv64UsingAarch64Code() {
        assertThat(violated(LayeringRules.ARCH_MODULES_ARE_INDEPENDENT, ArchUsingAnotherArch.class)).isTrue();
    }

    @Test
    void fdtRuleCatchesTheWriterKnowingAMachine() {
        assertThat(violated(LayeringRules.FDT_KNOWS_NO_MACHINE, FdtKnowingAMachine.class)).isTrue();
    }

    @Test
    void devicesRuleCatchesADeviceUsingKvm() {
        assertThat(violated(LayeringRules.DEVICES_USE_NO_BACKEND, DeviceUsingKvm.class)).isTrue();
    }

    @Test
    void vmmRuleCatchesTheApiUsingTheVmm() {
        assertThat(violated(LayeringRules.NOTHING_DEPENDS_ON_VMM, ApiUsingVmm.class)).isTrue();
    }

    @Test
    void embeddingRuleCatchesTheVmmUsingTheEmbeddingApi() {
        assertThat(violated(LayeringRules.NOTHING_INSIDE_USES_THE_EMBEDDING_API, VmmUsingTheEmbeddingApi.class)).isTrue();
    }

    @Test
    void junitRuleCatchesTheExtensionReachingIntoTheVmm() {
        assertThat(violated(LayeringRules.THE_JUNIT_EXTENSION_USES_THE_PUBLIC_API_ONLY, ExtensionUsingTheVmm.class)).isTrue();
    }

    @Test
    void foreignRuleCatchesAnArchPlatformHoldingAMemorySegment() {
        assertThat(violated(LayeringRules.FOREIGN_ONLY_AT_THE_NATIVE_EDGE, ArchUsingForeignMemory.class)).isTrue();
    }

    @Test
    void archBranchRuleCatchesADeviceThatAsksForAarch64() {
        assertThat(violated(LayeringRules.NO_ARCH_BRANCHES_OUTSIDE_ARCH_AND_BACKENDS, DeviceBranchingOnArch.class)).isTrue();
    }

    @Test
    void deviceManagerRuleCatchesTheVmmMakingAUartItself() {
        assertThat(violated(LayeringRules.ONLY_THE_DEVICE_MANAGER_MAKES_DEVICES, VmmMakingADevice.class)).isTrue();
    }

    @Test
    void deviceManagerRuleCatchesTheVmmUsingADevicesStaticFactory() {
        assertThat(violated(LayeringRules.ONLY_THE_DEVICE_MANAGER_MAKES_DEVICES, VmmMakingADeviceByFactory.class)).isTrue();
    }

    @Test
    void deviceManagerRuleCatchesTheVmmPuttingADeviceOnABus() {
        assertThat(violated(LayeringRules.ONLY_THE_DEVICE_MANAGER_MAKES_DEVICES, VmmPuttingADeviceOnABus.class)).isTrue();
    }

    @Test
    void theVmmMakesDevicesInTheDeviceManagerOnly() {
        // the converse: the VMM does make devices, all of them in the device manager, so the rule above is not vacuous
        assertThat(production.stream().filter(c -> c.getPackageName().startsWith("dev.nimbus.vmm"))
                .filter(c -> c.getConstructorCallsFromSelf().stream().anyMatch(call -> LayeringRules.DEVICE_TYPE.test(call.getTargetOwner())))
                .map(JavaClass::getPackageName).distinct())
                .containsExactly("dev.nimbus.vmm.devices");
    }

    @Test
    void configRuleCatchesAJsonKeyReadOutsideTheSchema() {
        assertThat(violated(LayeringRules.CONFIG_KEYS_ONLY_IN_THE_SCHEMA, ConfigKeyOutsideTheSchema.class)).isTrue();
    }

    @Test
    void cleanClassesPassEveryRule() {
        // the converse: a class that follows the layering violates nothing
        JavaClasses clean = new ClassFileImporter().importClasses(dev.nimbus.hypervisor.Arch.class);
        assertThat(Arrays.stream(LayeringRules.ALL).filter(r -> r.allowEmptyShould(true).evaluate(clean).hasViolation()))
                .isEmpty();
    }
}
