package dev.nimbus.conformance.layering;

import com.tngtech.archunit.lang.ArchRule;
import dev.nimbus.hypervisor.Arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The module layering of Nimbus as ArchUnit rules, by package:
 * <pre>
 *   hypervisor-api   dev.nimbus.hypervisor..        JDK only
 *   hypervisor-kvm   dev.nimbus.kvm..               api
 *   hypervisor-mshv  dev.nimbus.mshv..              api
 *   arch-*           dev.nimbus.arch.{x86_64,aarch64,riscv64}..   api
 *   devices          dev.nimbus.devices..           api
 *   vmm              dev.nimbus.vmm..               api, devices (backends and arch only at run time)
 * </pre>
 */
final class LayeringRules {
    static final String API = "dev.nimbus.hypervisor..";
    static final String KVM = "dev.nimbus.kvm..";
    static final String MSHV = "dev.nimbus.mshv..";
    static final String ARCH = "dev.nimbus.arch..";
    static final String DEVICES = "dev.nimbus.devices..";
    static final String VMM = "dev.nimbus.vmm..";
    static final String CONFORMANCE = "dev.nimbus.conformance..";

    /** The packages allowed to use java.lang.foreign: the backends and the SPI's native and memory layer. */
    static final String[] FOREIGN_ALLOWED = {KVM, MSHV, "dev.nimbus.hypervisor.sys..", "dev.nimbus.hypervisor.memory.."};

    private LayeringRules() {}

    static final ArchRule API_IS_JDK_ONLY = classes().that().resideInAPackage(API)
            .should().onlyDependOnClassesThat().resideInAnyPackage(API, "java..")
            .because("hypervisor-api is the contract everyone shares and depends on nothing but the JDK");

    static final ArchRule BACKENDS_ARE_INDEPENDENT = noClasses().that().resideInAPackage(KVM)
            .should().dependOnClassesThat().resideInAnyPackage(MSHV, ARCH, DEVICES, VMM)
            .because("a backend knows only the SPI");

    static final ArchRule MSHV_IS_INDEPENDENT = noClasses().that().resideInAPackage(MSHV)
            .should().dependOnClassesThat().resideInAnyPackage(KVM, ARCH, DEVICES, VMM)
            .because("a backend knows only the SPI");

    static final ArchRule ARCH_USES_NO_BACKEND = noClasses().that().resideInAPackage(ARCH)
            .should().dependOnClassesThat().resideInAnyPackage(KVM, MSHV, DEVICES, VMM)
            .because("arch platforms talk to the hypervisor through the SPI only");

    static final ArchRule ARCH_MODULES_ARE_INDEPENDENT = noClasses().that().resideInAPackage("dev.nimbus.arch.x86_64..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.nimbus.arch.aarch64..", "dev.nimbus.arch.riscv64..")
            .orShould().dependOnClassesThat().resideInAnyPackage(KVM)
            .because("each architecture stands alone");

    static final ArchRule DEVICES_USE_NO_BACKEND = noClasses().that().resideInAPackage(DEVICES)
            .should().dependOnClassesThat().resideInAnyPackage(KVM, MSHV, ARCH, VMM)
            .because("devices get guest memory and interrupts through the SPI");

    static final ArchRule NOTHING_DEPENDS_ON_VMM = noClasses().that().resideOutsideOfPackages(VMM, CONFORMANCE)
            .should().dependOnClassesThat().resideInAPackage(VMM)
            .because("the VMM is the top of the stack");

    static final ArchRule FOREIGN_ONLY_AT_THE_NATIVE_EDGE = noClasses().that().resideOutsideOfPackages(FOREIGN_ALLOWED)
            .should().dependOnClassesThat().resideInAPackage("java.lang.foreign..")
            .because("MemorySegment and downcalls stay in the backends and the SPI's sys/memory layer");

    /**
     * The SPI, the devices and the VMM never ask which architecture they run on ({@code if (arch == Arch.X86_64)}):
     * what differs comes from the arch platform. Only {@link Arch} itself names its constants; the backends,
     * which do differ per architecture, are not governed by this rule.
     */
    static final ArchRule NO_ARCH_BRANCHES_OUTSIDE_ARCH_AND_BACKENDS = noClasses()
            .that().resideInAnyPackage(API, DEVICES, VMM).and().doNotHaveFullyQualifiedName(Arch.class.getName())
            .should().accessField(Arch.class, "X86_64")
            .orShould().accessField(Arch.class, "AARCH64")
            .orShould().accessField(Arch.class, "RISCV64")
            .because("the arch module supplies what differs between architectures (issue #8)");

    static final ArchRule[] ALL = {
        API_IS_JDK_ONLY, BACKENDS_ARE_INDEPENDENT, MSHV_IS_INDEPENDENT, ARCH_USES_NO_BACKEND,
        ARCH_MODULES_ARE_INDEPENDENT, DEVICES_USE_NO_BACKEND, NOTHING_DEPENDS_ON_VMM, FOREIGN_ONLY_AT_THE_NATIVE_EDGE,
        NO_ARCH_BRANCHES_OUTSIDE_ARCH_AND_BACKENDS,
    };
}
