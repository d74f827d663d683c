package dev.nimbus.conformance.layering;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.CompositeArchRule;
import dev.nimbus.devices.bus.Bus;
import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.pci.PciDevice;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.platform.PlatformDeviceFactory;
import dev.nimbus.devices.virtio.VirtioDevice;
import dev.nimbus.devices.virtio.VirtioWorker;
import dev.nimbus.hypervisor.Arch;

import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static com.tngtech.archunit.core.domain.JavaAccess.Predicates.target;
import static com.tngtech.archunit.core.domain.JavaAccess.Predicates.targetOwner;
import static com.tngtech.archunit.core.domain.properties.HasName.Predicates.name;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The module layering of Nimbus as ArchUnit rules, by package:
 * <pre>
 *   host-sys         dev.nimbus.host..              JDK only
 *   hypervisor-api   dev.nimbus.hypervisor..        host (the types its contract names: EventFd, SyscallException; mmap for guest memory)
 *   hypervisor-kvm   dev.nimbus.kvm..               api, host
 *   hypervisor-mshv  dev.nimbus.mshv..              api, host
 *   arch-*           dev.nimbus.arch.{x86_64,aarch64,riscv64}..   api, arch-fdt (never the host layer, never another arch)
 *   arch-fdt         dev.nimbus.arch.fdt..          JDK only (the device tree writer AArch64 and riscv64 share)
 *   devices          dev.nimbus.devices..           api, host
 *   vmm              dev.nimbus.vmm..               api, host, devices (backends and arch only at run time)
 * </pre>
 * Within the VMM, only the device manager ({@code dev.nimbus.vmm.devices}) makes devices and puts them on buses.
 */
final class LayeringRules {
    static final String HOST = "dev.nimbus.host..";
    static final String API = "dev.nimbus.hypervisor..";
    static final String KVM = "dev.nimbus.kvm..";
    static final String MSHV = "dev.nimbus.mshv..";
    static final String ARCH = "dev.nimbus.arch..";
    static final String DEVICES = "dev.nimbus.devices..";
    static final String VMM = "dev.nimbus.vmm..";
    static final String CONFORMANCE = "dev.nimbus.conformance..";
    /** The embedding API (module nimbus-api) and the JUnit extension on it (nimbus-junit): above the VMM. */
    static final String EMBEDDING = "dev.nimbus.api..";
    static final String JUNIT = "dev.nimbus.junit..";
    /** The VMM's device manager: {@code DeviceManager} and the few classes it is split into. */
    static final String DEVICE_MANAGER = "dev.nimbus.vmm.devices..";

    /** The packages allowed to use java.lang.foreign: the host layer, the backends and guest memory. */
    static final String[] FOREIGN_ALLOWED = {HOST, KVM, MSHV, "dev.nimbus.hypervisor.memory.."};

    private LayeringRules() {}

    static final ArchRule HOST_IS_JDK_ONLY = classes().that().resideInAPackage(HOST)
            .should().onlyDependOnClassesThat().resideInAnyPackage(HOST, "java..")
            .because("the host layer is the bottom: system calls through the JDK, nothing of the VMM's");

    static final ArchRule API_IS_THE_CONTRACT_ONLY = classes().that().resideInAPackage(API)
            .should().onlyDependOnClassesThat().resideInAnyPackage(API, HOST, "java..")
            .because("hypervisor-api is the contract everyone shares: the JDK and the host layer's fd and error types only");

    static final ArchRule ARCH_USES_NO_HOST_LAYER = noClasses().that().resideInAPackage(ARCH)
            .should().dependOnClassesThat().resideInAPackage(HOST)
            .because("arch platforms describe machines; they reach the host only through the SPI");

    static final ArchRule BACKENDS_ARE_INDEPENDENT = noClasses().that().resideInAPackage(KVM)
            .should().dependOnClassesThat().resideInAnyPackage(MSHV, ARCH, DEVICES, VMM)
            .because("a backend knows only the SPI");

    static final ArchRule MSHV_IS_INDEPENDENT = noClasses().that().resideInAPackage(MSHV)
            .should().dependOnClassesThat().resideInAnyPackage(KVM, ARCH, DEVICES, VMM)
            .because("a backend knows only the SPI");

    static final ArchRule ARCH_USES_NO_BACKEND = noClasses().that().resideInAPackage(ARCH)
            .should().dependOnClassesThat().resideInAnyPackage(KVM, MSHV, DEVICES, VMM)
            .because("arch platforms talk to the hypervisor through the SPI only");

    /** The three architectures' packages. */
    static final String[] ARCHES = {"dev.nimbus.arch.x86_64..", "dev.nimbus.arch.aarch64..", "dev.nimbus.arch.riscv64.."};
    /** The flattened device tree writer the AArch64 and riscv64 platforms share (module {@code arch-fdt}). */
    static final String FDT = "dev.nimbus.arch.fdt..";

    /**
     * No architecture uses another's classes: what two share lives in a package of its own that knows no
     * machine ({@link #FDT_KNOWS_NO_MACHINE}), so riscv64 cannot grow a quiet dependency on AArch64's code.
     * (Until issue 14 the rule held for x86-64 only.)
     */
    static final ArchRule ARCH_MODULES_ARE_INDEPENDENT = CompositeArchRule.of(Stream.of(ARCHES).map(own -> (ArchRule) noClasses()
                    .that().resideInAPackage(own)
                    .should().dependOnClassesThat().resideInAnyPackage(Stream.of(ARCHES).filter(a -> !a.equals(own)).toArray(String[]::new))
                    .orShould().dependOnClassesThat().resideInAnyPackage(KVM)
                    // a fixture set holds one architecture's classes; LayeringTest checks every module was imported
                    .allowEmptyShould(true))
            .toList())
            .because("each architecture stands alone");

    /** The shared device tree writer is a file format and nothing more: the JDK only, no SPI, no architecture. */
    static final ArchRule FDT_KNOWS_NO_MACHINE = classes().that().resideInAPackage(FDT)
            .should().onlyDependOnClassesThat().resideInAnyPackage(FDT, "java..")
            .because("the FDT writer is shared by the arch modules, so it may know none of them");

    static final ArchRule DEVICES_USE_NO_BACKEND = noClasses().that().resideInAPackage(DEVICES)
            .should().dependOnClassesThat().resideInAnyPackage(KVM, MSHV, ARCH, VMM)
            .because("devices get guest memory and interrupts through the SPI");

    static final ArchRule NOTHING_DEPENDS_ON_VMM = noClasses().that().resideOutsideOfPackages(VMM, EMBEDDING, CONFORMANCE)
            .should().dependOnClassesThat().resideInAPackage(VMM)
            .because("the VMM is the top of the stack, under only the embedding API that drives it");

    static final ArchRule NOTHING_INSIDE_USES_THE_EMBEDDING_API = noClasses().that().resideOutsideOfPackages(EMBEDDING, JUNIT, CONFORMANCE)
            .should().dependOnClassesThat().resideInAPackage(EMBEDDING)
            .because("the embedding API is a front end for other programs, not a layer Nimbus builds on");

    static final ArchRule THE_JUNIT_EXTENSION_USES_THE_PUBLIC_API_ONLY = classes().that().resideInAPackage(JUNIT)
            .should().onlyDependOnClassesThat().resideInAnyPackage(JUNIT, EMBEDDING, "java..", "org.junit..", "org.opentest4j..")
            .because("the JUnit extension is built as any user of the embedding API would build it");

    static final ArchRule FOREIGN_ONLY_AT_THE_NATIVE_EDGE = noClasses().that().resideOutsideOfPackages(FOREIGN_ALLOWED)
            .should().dependOnClassesThat().resideInAPackage("java.lang.foreign..")
            .because("MemorySegment and downcalls stay in the host layer, the backends and guest memory");

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

    /**
     * A device type of the devices module: what goes on a bus ({@link BusDevice}) or the PCI root ({@link PciDevice},
     * {@link PciRoot}), a virtio device or its worker thread, and the factory that makes the platform devices.
     */
    static final DescribedPredicate<JavaClass> DEVICE_TYPE = new DescribedPredicate<>(
            "a device type of " + DEVICES + " (assignable to BusDevice, PciDevice, PciRoot, VirtioDevice, VirtioWorker or PlatformDeviceFactory)") {
        @Override
        public boolean test(JavaClass c) {
            return c.getPackageName().startsWith("dev.nimbus.devices")
                    && Stream.of(BusDevice.class, PciDevice.class, PciRoot.class, VirtioDevice.class, VirtioWorker.class, PlatformDeviceFactory.class)
                            .anyMatch(c::isAssignableTo);
        }
    };

    /** A call of a static method that returns a {@link #DEVICE_TYPE}: a factory method in place of a constructor. */
    static final DescribedPredicate<JavaMethodCall> STATIC_DEVICE_FACTORY = new DescribedPredicate<>(
            "a static method returning " + DEVICE_TYPE.getDescription()) {
        @Override
        public boolean test(JavaMethodCall call) {
            return DEVICE_TYPE.test(call.getTarget().getRawReturnType())
                    && call.getTarget().resolveMember().map(m -> m.getModifiers().contains(JavaModifier.STATIC)).orElse(false);
        }
    };

    /**
     * The classes that declare configuration keys ({@code Schema}) or read them by the schema's names
     * ({@code Values}, {@code VmConfigJson}; {@code Field} compares an object value with its default member
     * by member).
     */
    /** The snapshot directory's format (its manifest's JSON members are the format's, not configuration keys). */
    static final String SNAPSHOT_FORMAT = "dev.nimbus.vmm.snapshot..";

    static final String[] CONFIG_SCHEMA = {"dev.nimbus.vmm.config.Schema", "dev.nimbus.vmm.config.Values",
        "dev.nimbus.vmm.config.VmConfigJson", "dev.nimbus.vmm.config.Field"};

    /**
     * Declaring a configuration key: making a schema field or section, or reading a JSON member by its name
     * ({@code node.get("cpus")}, {@code node.has(...)}, iterating an object's members).
     */
    static final DescribedPredicate<JavaMethodCall> DECLARES_A_CONFIG_KEY = new DescribedPredicate<>(
            "declare a configuration key (a schema field or section, a JSON member read by name)") {
        @Override
        public boolean test(JavaMethodCall call) {
            String owner = call.getTarget().getOwner().getName();
            String name = call.getTarget().getName();
            List<String> params = call.getTarget().getRawParameterTypes().stream().map(JavaClass::getName).toList();
            if (owner.equals("dev.nimbus.vmm.config.Field") || owner.equals("dev.nimbus.vmm.config.Section")) {
                return Set.of("of", "notYet", "listOf", "options", "withBareWords").contains(name);
            }
            if (call.getTarget().getOwner().isAssignableTo("com.fasterxml.jackson.databind.JsonNode")) {
                return (Set.of("get", "has", "path", "hasNonNull", "findValue", "required").contains(name)
                        && params.equals(List.of(String.class.getName())))
                        || (Set.of("properties", "fieldNames").contains(name) && params.isEmpty());
            }
            return false;
        }
    };

    /**
     * The device manager is the one place in the VMM that makes devices and puts them on buses (Cloud
     * Hypervisor's device_manager.rs): no other VMM class calls a device type's constructor or a static
     * factory of one, or inserts into a {@link Bus} or {@link Buses}. Ask "who owns this device's life?" and
     * there is one answer, which snapshot, restore and hot-plug will rely on.
     */
    static final ArchRule ONLY_THE_DEVICE_MANAGER_MAKES_DEVICES = noClasses()
            .that().resideInAPackage(VMM).and().resideOutsideOfPackage(DEVICE_MANAGER)
            .should().callConstructorWhere(targetOwner(DEVICE_TYPE))
            .orShould().callMethodWhere(STATIC_DEVICE_FACTORY)
            .orShould().callMethodWhere(targetOwner(JavaClass.Predicates.assignableTo(Buses.class).or(JavaClass.Predicates.assignableTo(Bus.class)))
                    .and(target(name("insert").or(name("insertAll")))))
            .because("the device manager owns every device's life: creation, bus placement, resources and teardown (issue #12)");

    /**
     * Every configuration key is declared once, in the schema, for the command line and the REST API alike
     * (issue #12): nothing else in the VMM makes a field or reads VmConfig JSON by member name.
     */
    static final ArchRule CONFIG_KEYS_ONLY_IN_THE_SCHEMA = noClasses().that().resideInAPackage(VMM)
            .and(DescribedPredicate.not(DescribedPredicate.describe("one of " + String.join(", ", CONFIG_SCHEMA),
                    (JavaClass c) -> List.of(CONFIG_SCHEMA).contains(c.getName()))))
            // a snapshot's manifest is a file format of its own, not configuration: its members are read by name there
            .and().resideOutsideOfPackage(SNAPSHOT_FORMAT)
            .should().callMethodWhere(DECLARES_A_CONFIG_KEY)
            .because("a configuration key is declared in dev.nimbus.vmm.config.Schema only, for both front ends");

    static final ArchRule[] ALL = {
        HOST_IS_JDK_ONLY, API_IS_THE_CONTRACT_ONLY, ARCH_USES_NO_HOST_LAYER, BACKENDS_ARE_INDEPENDENT, MSHV_IS_INDEPENDENT, ARCH_USES_NO_BACKEND,
        ARCH_MODULES_ARE_INDEPENDENT, FDT_KNOWS_NO_MACHINE, DEVICES_USE_NO_BACKEND, NOTHING_DEPENDS_ON_VMM, FOREIGN_ONLY_AT_THE_NATIVE_EDGE,
        NO_ARCH_BRANCHES_OUTSIDE_ARCH_AND_BACKENDS, ONLY_THE_DEVICE_MANAGER_MAKES_DEVICES, CONFIG_KEYS_ONLY_IN_THE_SCHEMA,
        NOTHING_INSIDE_USES_THE_EMBEDDING_API, THE_JUNIT_EXTENSION_USES_THE_PUBLIC_API_ONLY,
    };
}
