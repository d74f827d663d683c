package dev.nimbus.kvm.abi;

import dev.nimbus.host.CLayouts;
import dev.nimbus.host.Ioctl;

import java.lang.foreign.MemoryLayout;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The KVM ioctl request numbers, each computed from the {@code _IOC} encoding with the size of its
 * argument's layout, as {@code <linux/kvm.h>} defines them. {@link #COMMON} and the per-architecture maps
 * list every one by its C name so that {@code KvmLayoutConformanceTest} can compare them with the header.
 */
public final class KvmIoctls {
    private static final int KVMIO = 0xAE;
    private static final Map<String, Long> common = new LinkedHashMap<>();
    private static final Map<String, Long> x86 = new LinkedHashMap<>();
    private static final Map<String, Long> arm64 = new LinkedHashMap<>();

    /** Ioctls every architecture has, by C name. */
    public static final Map<String, Long> COMMON = Collections.unmodifiableMap(common);
    /** x86-64-only ioctls. */
    public static final Map<String, Long> X86 = Collections.unmodifiableMap(x86);
    /** AArch64-only ioctls. */
    public static final Map<String, Long> ARM64 = Collections.unmodifiableMap(arm64);

    private KvmIoctls() {}

    private static long def(Map<String, Long> into, String name, long number) {
        into.put(name, number);
        return number;
    }

    private static long io(Map<String, Long> m, String name, int nr) {
        return def(m, name, Ioctl.io(KVMIO, nr));
    }

    private static long ior(Map<String, Long> m, String name, int nr, MemoryLayout arg) {
        return def(m, name, Ioctl.ior(KVMIO, nr, arg.byteSize()));
    }

    private static long iow(Map<String, Long> m, String name, int nr, MemoryLayout arg) {
        return def(m, name, Ioctl.iow(KVMIO, nr, arg.byteSize()));
    }

    private static long iowr(Map<String, Long> m, String name, int nr, MemoryLayout arg) {
        return def(m, name, Ioctl.iowr(KVMIO, nr, arg.byteSize()));
    }

    // system fd
    public static final long KVM_GET_API_VERSION = io(common, "KVM_GET_API_VERSION", 0x00);
    public static final long KVM_CREATE_VM = io(common, "KVM_CREATE_VM", 0x01);
    public static final long KVM_CHECK_EXTENSION = io(common, "KVM_CHECK_EXTENSION", 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(common, "KVM_GET_VCPU_MMAP_SIZE", 0x04);
    public static final long KVM_GET_MSR_INDEX_LIST = iowr(x86, "KVM_GET_MSR_INDEX_LIST", 0x02, X86KvmStructs.KVM_MSR_LIST);
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(x86, "KVM_GET_SUPPORTED_CPUID", 0x05, X86KvmStructs.KVM_CPUID2);

    // VM fd
    public static final long KVM_CREATE_VCPU = io(common, "KVM_CREATE_VCPU", 0x41);
    public static final long KVM_GET_DIRTY_LOG = iow(common, "KVM_GET_DIRTY_LOG", 0x42, KvmStructs.KVM_DIRTY_LOG);
    public static final long KVM_SET_USER_MEMORY_REGION = iow(common, "KVM_SET_USER_MEMORY_REGION", 0x46,
            KvmStructs.KVM_USERSPACE_MEMORY_REGION);
    public static final long KVM_SET_TSS_ADDR = io(x86, "KVM_SET_TSS_ADDR", 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = iow(x86, "KVM_SET_IDENTITY_MAP_ADDR", 0x48, CLayouts.U64);
    public static final long KVM_CREATE_IRQCHIP = io(common, "KVM_CREATE_IRQCHIP", 0x60);
    public static final long KVM_IRQ_LINE = iow(common, "KVM_IRQ_LINE", 0x61, KvmStructs.KVM_IRQ_LEVEL);
    public static final long KVM_GET_IRQCHIP = iowr(x86, "KVM_GET_IRQCHIP", 0x62, X86KvmStructs.KVM_IRQCHIP);
    public static final long KVM_SET_IRQCHIP = ior(x86, "KVM_SET_IRQCHIP", 0x63, X86KvmStructs.KVM_IRQCHIP);
    public static final long KVM_SET_GSI_ROUTING = iow(common, "KVM_SET_GSI_ROUTING", 0x6a, KvmStructs.KVM_IRQ_ROUTING);
    public static final long KVM_IRQFD = iow(common, "KVM_IRQFD", 0x76, KvmStructs.KVM_IRQFD);
    public static final long KVM_CREATE_PIT2 = iow(x86, "KVM_CREATE_PIT2", 0x77, X86KvmStructs.KVM_PIT_CONFIG);
    public static final long KVM_IOEVENTFD = iow(common, "KVM_IOEVENTFD", 0x79, KvmStructs.KVM_IOEVENTFD);
    public static final long KVM_SET_CLOCK = iow(x86, "KVM_SET_CLOCK", 0x7b, KvmStructs.KVM_CLOCK_DATA);
    public static final long KVM_GET_CLOCK = ior(x86, "KVM_GET_CLOCK", 0x7c, KvmStructs.KVM_CLOCK_DATA);
    public static final long KVM_GET_PIT2 = ior(x86, "KVM_GET_PIT2", 0x9f, X86KvmStructs.KVM_PIT_STATE2);
    public static final long KVM_SET_PIT2 = iow(x86, "KVM_SET_PIT2", 0xa0, X86KvmStructs.KVM_PIT_STATE2);
    public static final long KVM_ENABLE_CAP = iow(common, "KVM_ENABLE_CAP", 0xa3, KvmStructs.KVM_ENABLE_CAP);
    public static final long KVM_SIGNAL_MSI = iow(common, "KVM_SIGNAL_MSI", 0xa5, KvmStructs.KVM_MSI);
    public static final long KVM_CREATE_DEVICE = iowr(common, "KVM_CREATE_DEVICE", 0xe0, KvmStructs.KVM_CREATE_DEVICE);
    public static final long KVM_ARM_PREFERRED_TARGET = ior(arm64, "KVM_ARM_PREFERRED_TARGET", 0xaf,
            Arm64KvmStructs.KVM_VCPU_INIT);

    // device fd (and vCPU fd on AArch64 for the timer/PMU attributes)
    public static final long KVM_SET_DEVICE_ATTR = iow(common, "KVM_SET_DEVICE_ATTR", 0xe1, KvmStructs.KVM_DEVICE_ATTR);
    public static final long KVM_GET_DEVICE_ATTR = iow(common, "KVM_GET_DEVICE_ATTR", 0xe2, KvmStructs.KVM_DEVICE_ATTR);
    public static final long KVM_HAS_DEVICE_ATTR = iow(common, "KVM_HAS_DEVICE_ATTR", 0xe3, KvmStructs.KVM_DEVICE_ATTR);

    // vCPU fd
    public static final long KVM_RUN = io(common, "KVM_RUN", 0x80);
    public static final long KVM_GET_REGS = ior(x86, "KVM_GET_REGS", 0x81, X86KvmStructs.KVM_REGS);
    public static final long KVM_SET_REGS = iow(x86, "KVM_SET_REGS", 0x82, X86KvmStructs.KVM_REGS);
    public static final long KVM_GET_SREGS = ior(x86, "KVM_GET_SREGS", 0x83, X86KvmStructs.KVM_SREGS);
    public static final long KVM_SET_SREGS = iow(x86, "KVM_SET_SREGS", 0x84, X86KvmStructs.KVM_SREGS);
    public static final long KVM_GET_MSRS = iowr(x86, "KVM_GET_MSRS", 0x88, X86KvmStructs.KVM_MSRS);
    public static final long KVM_SET_MSRS = iow(x86, "KVM_SET_MSRS", 0x89, X86KvmStructs.KVM_MSRS);
    public static final long KVM_SET_SIGNAL_MASK = iow(common, "KVM_SET_SIGNAL_MASK", 0x8b, KvmStructs.KVM_SIGNAL_MASK);
    public static final long KVM_GET_FPU = ior(x86, "KVM_GET_FPU", 0x8c, X86KvmStructs.KVM_FPU);
    public static final long KVM_SET_FPU = iow(x86, "KVM_SET_FPU", 0x8d, X86KvmStructs.KVM_FPU);
    public static final long KVM_GET_LAPIC = ior(x86, "KVM_GET_LAPIC", 0x8e, X86KvmStructs.KVM_LAPIC_STATE);
    public static final long KVM_SET_LAPIC = iow(x86, "KVM_SET_LAPIC", 0x8f, X86KvmStructs.KVM_LAPIC_STATE);
    public static final long KVM_SET_CPUID2 = iow(x86, "KVM_SET_CPUID2", 0x90, X86KvmStructs.KVM_CPUID2);
    public static final long KVM_GET_CPUID2 = iowr(x86, "KVM_GET_CPUID2", 0x91, X86KvmStructs.KVM_CPUID2);
    public static final long KVM_GET_MP_STATE = ior(common, "KVM_GET_MP_STATE", 0x98, KvmStructs.KVM_MP_STATE);
    public static final long KVM_SET_MP_STATE = iow(common, "KVM_SET_MP_STATE", 0x99, KvmStructs.KVM_MP_STATE);
    public static final long KVM_GET_VCPU_EVENTS = ior(x86, "KVM_GET_VCPU_EVENTS", 0x9f, X86KvmStructs.KVM_VCPU_EVENTS);
    public static final long KVM_SET_VCPU_EVENTS = iow(x86, "KVM_SET_VCPU_EVENTS", 0xa0, X86KvmStructs.KVM_VCPU_EVENTS);
    public static final long KVM_GET_DEBUGREGS = ior(x86, "KVM_GET_DEBUGREGS", 0xa1, X86KvmStructs.KVM_DEBUGREGS);
    public static final long KVM_SET_DEBUGREGS = iow(x86, "KVM_SET_DEBUGREGS", 0xa2, X86KvmStructs.KVM_DEBUGREGS);
    public static final long KVM_SET_TSC_KHZ = io(x86, "KVM_SET_TSC_KHZ", 0xa2);
    public static final long KVM_GET_TSC_KHZ = io(x86, "KVM_GET_TSC_KHZ", 0xa3);
    public static final long KVM_GET_XSAVE = ior(x86, "KVM_GET_XSAVE", 0xa4, X86KvmStructs.KVM_XSAVE);
    public static final long KVM_SET_XSAVE = iow(x86, "KVM_SET_XSAVE", 0xa5, X86KvmStructs.KVM_XSAVE);
    public static final long KVM_GET_XCRS = ior(x86, "KVM_GET_XCRS", 0xa6, X86KvmStructs.KVM_XCRS);
    public static final long KVM_SET_XCRS = iow(x86, "KVM_SET_XCRS", 0xa7, X86KvmStructs.KVM_XCRS);
    public static final long KVM_GET_ONE_REG = iow(common, "KVM_GET_ONE_REG", 0xab, KvmStructs.KVM_ONE_REG);
    public static final long KVM_SET_ONE_REG = iow(common, "KVM_SET_ONE_REG", 0xac, KvmStructs.KVM_ONE_REG);
    public static final long KVM_ARM_VCPU_INIT = iow(arm64, "KVM_ARM_VCPU_INIT", 0xae, Arm64KvmStructs.KVM_VCPU_INIT);
    public static final long KVM_GET_REG_LIST = iowr(common, "KVM_GET_REG_LIST", 0xb0, KvmStructs.KVM_REG_LIST);
    public static final long KVM_GET_XSAVE2 = ior(x86, "KVM_GET_XSAVE2", 0xcf, X86KvmStructs.KVM_XSAVE);

    /**
     * What Nimbus asks of a VM and its vCPUs once the VM is built and running, by C name: running a vCPU and
     * reading or writing its state, raising interrupts, changing irqfd, ioeventfd and MSI routes (a guest
     * driver programs MSI-X and the queues while it runs), device attributes, the clock. Making things (the VM,
     * vCPUs, interrupt controllers, memory slots, the CPUID) is left out: that happens before any vCPU runs,
     * on the thread that builds the machine. The seccomp filter of a vCPU thread allows these.
     *
     * <p>A snapshot saves each vCPU on its own thread, under that filter: every get of {@code KvmX86Vcpu.saveState}
     * is here ({@code KVM_GET_XSAVE2}, {@code KVM_GET_XCRS}, {@code KVM_GET_DEBUGREGS}, {@code KVM_GET_CPUID2} with
     * the older ones), and the sets that pair with them. {@code KVM_SET_CPUID2} stays out: restore sets the CPUID
     * before the thread joins its filter, like the first boot. {@code KVM_GET_MSR_INDEX_LIST} is asked once on the
     * thread that makes the VM. The irqchip's {@code KVM_GET/SET_IRQCHIP} and {@code KVM_GET/SET_PIT2} are VM
     * ioctls the {@code vm-control} thread makes, which has no filter (docs/security.md).
     */
    public static final Set<String> RUNTIME_NAMES = Set.of("KVM_CHECK_EXTENSION", "KVM_RUN", "KVM_GET_REGS",
            "KVM_SET_REGS", "KVM_GET_SREGS", "KVM_SET_SREGS", "KVM_GET_MSRS", "KVM_SET_MSRS", "KVM_GET_FPU", "KVM_SET_FPU",
            "KVM_GET_LAPIC", "KVM_SET_LAPIC", "KVM_GET_MP_STATE", "KVM_SET_MP_STATE", "KVM_GET_VCPU_EVENTS",
            "KVM_SET_VCPU_EVENTS", "KVM_GET_XSAVE", "KVM_SET_XSAVE", "KVM_GET_XSAVE2", "KVM_GET_XCRS", "KVM_SET_XCRS",
            "KVM_GET_DEBUGREGS", "KVM_SET_DEBUGREGS", "KVM_GET_CPUID2", "KVM_GET_ONE_REG", "KVM_SET_ONE_REG",
            "KVM_GET_REG_LIST", "KVM_SET_SIGNAL_MASK", "KVM_GET_TSC_KHZ", "KVM_IRQ_LINE", "KVM_SET_GSI_ROUTING",
            "KVM_IRQFD", "KVM_IOEVENTFD", "KVM_SIGNAL_MSI", "KVM_SET_DEVICE_ATTR", "KVM_GET_DEVICE_ATTR",
            "KVM_HAS_DEVICE_ATTR", "KVM_GET_CLOCK", "KVM_SET_CLOCK", "KVM_GET_DIRTY_LOG");

    /** The request numbers of {@link #RUNTIME_NAMES}. */
    public static Set<Long> runtime() {
        Set<Long> numbers = new java.util.HashSet<>();
        for (Map<String, Long> m : List.of(common, x86, arm64)) {
            m.forEach((name, nr) -> {
                if (RUNTIME_NAMES.contains(name)) {
                    numbers.add(nr);
                }
            });
        }
        return Set.copyOf(numbers);
    }
}
