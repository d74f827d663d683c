package dev.nimbus.kvm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.KernelSpeed;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmSystemFd;
import dev.nimbus.kvm.fd.KvmVmFd;
import dev.nimbus.kvm.abi.KvmIoctls;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static dev.nimbus.kvm.abi.KvmConstants.*;

/**
 * The KVM backend's entry point, found through {@link java.util.ServiceLoader}. Usable when /dev/kvm can
 * be opened and speaks API version 12 (on x86-64, {@link #availability()} also measures whether guest kernel
 * code runs at hardware speed). Capabilities come from {@code KVM_CHECK_EXTENSION}.
 */
public final class KvmHypervisor implements Hypervisor {
    static final Path DEFAULT_DEVICE = Path.of("/dev/kvm");
    private static final Path SYS_MODULE = Path.of("/sys/module");
    private static final System.Logger LOG = System.getLogger(KvmHypervisor.class.getName());
    private final Path device;
    private final Arch hostArch;

    public KvmHypervisor() {
        this(DEFAULT_DEVICE, Arch.host());
    }

    /** A backend on another device node (tests use a path that does not exist). */
    KvmHypervisor(Path device, Arch hostArch) {
        this.device = device;
        this.hostArch = hostArch;
    }

    @Override
    public String name() {
        return "kvm";
    }

    @Override
    public Set<Arch> architectures() {
        return EnumSet.allOf(Arch.class);
    }

    /**
     * Usable when the device opens and speaks API version 12. On x86-64 the answer also says whether guest
     * kernel code runs at hardware speed ({@link KernelSpeedProbe}, measured once per process and device):
     * {@link Availability.Kind#KERNEL_EMULATED} when it does not. A probe that cannot run leaves the
     * device usable, with the probe's failure in the reason.
     */
    @Override
    public Availability availability() {
        Availability basic = deviceAvailability();
        if (!basic.usable() || hostArch != Arch.X86_64) {
            return basic;
        }
        return SPEED.computeIfAbsent(device, d -> measureSpeed(basic));
    }

    private static final Map<Path, Availability> SPEED = new ConcurrentHashMap<>();

    /** {@code KVM_GET_MSR_INDEX_LIST}: what a vCPU snapshot reads, the same for every VM of this backend. */
    private volatile int[] msrIndexList;

    private int[] msrIndexList(KvmSystemFd kvm) {
        int[] list = msrIndexList;
        if (list == null) {
            list = kvm.getMsrIndexList();
            msrIndexList = list;
        }
        return list;
    }

    private Availability measureSpeed(Availability basic) {
        long start = System.nanoTime();
        try {
            KernelSpeed speed = KernelSpeedProbe.measure(this::createVmUnchecked, KernelSpeedProbe.knownCause(SYS_MODULE));
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1} (probe took {2} ms)", device, speed.describe(),
                    (System.nanoTime() - start) / 1_000_000);
            return speed.kernelEmulated() ? Availability.kernelEmulated(device.toString(), speed)
                    : Availability.usable(basic.reason() + "; " + speed.describe(), speed);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Availability.usable(basic.reason() + "; kernel-speed probe interrupted");
        } catch (RuntimeException e) {
            return Availability.usable(basic.reason() + "; kernel-speed probe failed: " + e.getMessage());
        }
    }

    private Availability deviceAvailability() {
        if (!Files.exists(device)) {
            return Availability.unusable(device + " does not exist (the kvm module is not loaded, or this host has no hardware virtualization)");
        }
        KvmSystemFd kvm;
        try {
            kvm = KvmSystemFd.open(device.toString());
        } catch (SyscallException e) {
            String hint = e.errno() == Errno.EACCES ? " (add the user to the kvm group)" : "";
            return Availability.unusable("cannot open " + device + ": " + Errno.describe(e.errno()) + hint);
        }
        try (kvm) {
            int version = kvm.getApiVersion();
            if (version != KVM_API_VERSION) {
                return Availability.unusable(device + " speaks KVM API version " + version + ", not " + KVM_API_VERSION);
            }
            return Availability.usable(device + ", API version " + version);
        } catch (SyscallException e) {
            return Availability.unusable(e.getMessage());
        }
    }

    private KvmSystemFd openUsable() {
        Availability a = deviceAvailability();
        if (!a.usable()) {
            throw new HypervisorException("kvm: " + a.reason());
        }
        return KvmSystemFd.open(device.toString());
    }

    @Override
    public Set<Capability> capabilities() {
        if (!deviceAvailability().usable()) {
            return EnumSet.noneOf(Capability.class);
        }
        try (KvmSystemFd kvm = openUsable()) {
            Set<Capability> caps = EnumSet.noneOf(Capability.class);
            if (kvm.checkExtension(KVM_CAP_IRQFD) > 0) {
                caps.add(Capability.IRQFD);
            }
            if (kvm.checkExtension(KVM_CAP_IOEVENTFD) > 0) {
                caps.add(Capability.IOEVENTFD);
            }
            if (kvm.checkExtension(KVM_CAP_IRQ_ROUTING) > 0) {
                caps.add(Capability.GSI_ROUTING);
            }
            if (kvm.checkExtension(KVM_CAP_SIGNAL_MSI) > 0) {
                caps.add(Capability.SIGNAL_MSI);
            }
            if (kvm.checkExtension(KVM_CAP_READONLY_MEM) > 0) {
                caps.add(Capability.READONLY_MEMORY);
            }
            caps.add(Capability.DIRTY_LOG);  // KVM_GET_DIRTY_LOG has no capability: every KVM has it
            if (kvm.checkExtension(KVM_CAP_IMMEDIATE_EXIT) > 0) {
                caps.add(Capability.IMMEDIATE_EXIT);
            }
            if (hostArch == Arch.X86_64 && kvm.checkExtension(KVM_CAP_IRQCHIP) > 0) {
                caps.add(Capability.IN_KERNEL_IOAPIC);
            }
            if (hostArch == Arch.X86_64 && kvm.checkExtension(KVM_CAP_SPLIT_IRQCHIP) > 0) {
                caps.add(Capability.SPLIT_IRQCHIP);
            }
            return caps;
        }
    }

    @Override
    public Set<Long> runtimeIoctls() {
        return KvmIoctls.runtime();
    }

    @Override
    public int maxVcpus() {
        if (!deviceAvailability().usable()) {
            return 0;
        }
        try (KvmSystemFd kvm = openUsable()) {
            return maxVcpus(kvm);
        }
    }

    private static int maxVcpus(KvmSystemFd kvm) {
        int max = kvm.checkExtension(KVM_CAP_MAX_VCPUS);
        if (max <= 0) {
            max = kvm.checkExtension(KVM_CAP_NR_VCPUS);
        }
        return max > 0 ? max : 4;  // the API documents 4 when neither capability answers
    }

    @Override
    public Vm createVm(VmOptions options) {
        Availability a = availability();
        if (!a.usable()) {
            throw new HypervisorException("kvm: " + a.reason());
        }
        // availability() has just checked the device and its API version
        KvmVm vm = createVm(options, KvmSystemFd.open(device.toString()));
        if (a.kernelEmulated()) {
            vm.noteOnInternalError("this host's " + a.summary());
        }
        return vm;
    }

    /** A VM without the speed probe: the probe's own. */
    private Vm createVmUnchecked() {
        return createVm(VmOptions.defaults(), openUsable());
    }

    private KvmVm createVm(VmOptions options, KvmSystemFd kvm) {
        try {
            long type = 0;
            if (hostArch == Arch.AARCH64 && options.ipaBits() != 0) {
                int maxIpa = kvm.checkExtension(KvmConstants.KVM_CAP_ARM_VM_IPA_SIZE);
                if (maxIpa == 0 || options.ipaBits() > maxIpa || options.ipaBits() < 32) {
                    throw new HypervisorException("kvm: an IPA width of " + options.ipaBits()
                            + " bits is not available (host allows 32-" + maxIpa + ")");
                }
                type = armVmTypeIpaSize(options.ipaBits());
            }
            int maxVcpus = maxVcpus(kvm);
            int[] msrsToSave = hostArch == Arch.X86_64 ? msrIndexList(kvm) : null;
            KvmVmFd vm = kvm.createVm(type);
            return hostArch == Arch.X86_64 ? new KvmX86Vm(kvm, vm, maxVcpus, msrsToSave)
                    : new KvmVm(hostArch, kvm, vm, maxVcpus);
        } catch (RuntimeException e) {
            kvm.close();
            throw e;
        }
    }
}
