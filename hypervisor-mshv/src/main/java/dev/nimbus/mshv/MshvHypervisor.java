package dev.nimbus.mshv;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.host.Errno;
import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;
import dev.nimbus.mshv.abi.MshvConstants;
import dev.nimbus.mshv.abi.MshvIoctls;
import dev.nimbus.mshv.fd.MshvPartitionFd;
import dev.nimbus.mshv.fd.MshvSystemFd;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The Microsoft Hypervisor backend's entry point (/dev/mshv, Linux as the root partition), found through
 * {@link java.util.ServiceLoader}. x86-64 only: AArch64 on MSHV is out of scope.
 *
 * <p>Its VM ({@link MshvVm}) and vCPU ({@link MshvVcpu}) exist and are tested against a stand-in for the
 * kernel, but a machine cannot run on it yet (no userspace IOAPIC; FPU, LAPIC and MP state not mapped), so
 * {@link #availability()} says so even where /dev/mshv opens, and {@link #createVm} refuses with that reason,
 * as the SPI's contract asks. Nothing here has run on a real /dev/mshv.
 */
public final class MshvHypervisor implements Hypervisor {
    static final Path DEVICE = Path.of("/dev/mshv");
    static final String MISSING = "the mshv backend cannot run a machine yet: the hypervisor has no in-kernel IOAPIC "
            + "and the userspace one is not built for it, and FPU, LAPIC and MP state are not mapped onto its registers";
    /** What the partition is created with: the hypervisor's local APIC (x2APIC too), 2 MiB pages where they fit. */
    static final long PT_FLAGS = 1L << MshvConstants.MSHV_PT_BIT_LAPIC | 1L << MshvConstants.MSHV_PT_BIT_X2APIC
            | 1L << MshvConstants.MSHV_PT_BIT_GPA_SUPER_PAGES;

    @Override
    public String name() {
        return "mshv";
    }

    @Override
    public Set<Arch> architectures() {
        return EnumSet.of(Arch.X86_64);
    }

    @Override
    public Availability availability() {
        if (Arch.host() != Arch.X86_64) {
            return Availability.unusable("the mshv backend supports x86-64 hosts only, not " + Arch.host().id());
        }
        if (!Files.exists(DEVICE)) {
            return Availability.unusable(DEVICE + " does not exist (this host is not a Microsoft Hypervisor root partition, or the mshv driver is not loaded)");
        }
        try {
            LibC.close(LibC.open(DEVICE.toString(), LibC.O_RDWR | LibC.O_CLOEXEC, 0));
        } catch (SyscallException e) {
            return Availability.unusable("cannot open " + DEVICE + ": " + Errno.describe(e.errno()));
        }
        return Availability.unusable(DEVICE + " is present, but " + MISSING);
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.noneOf(Capability.class);
    }

    /** What a running VM's VPs and devices ask of the driver: run, hypercalls (registers, interrupts), eventfds, routes. */
    @Override
    public Set<Long> runtimeIoctls() {
        return Set.of(MshvIoctls.MSHV_RUN_VP, MshvIoctls.MSHV_ROOT_HVCALL, MshvIoctls.MSHV_IRQFD, MshvIoctls.MSHV_IOEVENTFD,
                MshvIoctls.MSHV_SET_MSI_ROUTING, MshvIoctls.MSHV_GET_VP_STATE, MshvIoctls.MSHV_SET_VP_STATE);
    }

    @Override
    public int maxVcpus() {
        return 0;
    }

    @Override
    public Vm createVm(VmOptions options) {
        throw new HypervisorException("mshv: " + availability().reason());
    }

    /**
     * A VM on {@code system}: a partition created with {@link #PT_FLAGS}, initialized, CPUID intercepted. What
     * {@link #createVm} will do once the backend can run a machine; the tests call it with a stand-in.
     */
    static MshvVm createVm(VmOptions options, MshvSystemFd system) {
        MshvPartitionFd partition = system.createPartition(PT_FLAGS);
        MshvVm vm = new MshvVm(partition, options);
        try {
            vm.initialize();
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
        return vm;
    }
}
