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
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * The Microsoft Hypervisor backend's entry point (/dev/mshv, Linux as the root partition), found through
 * {@link java.util.ServiceLoader}. x86-64 only: AArch64 on MSHV is out of scope.
 *
 * <p>The SPI is built in full for x86-64 ({@link MshvVm}, {@link MshvVcpu}, the split irqchip with the VMM's
 * IOAPIC), so where /dev/mshv opens the backend is usable and {@link #createVm} makes a partition. Nothing here
 * has run on a real /dev/mshv: it is tested against a stand-in for the kernel and the hypervisor's headers only.
 * Not built, and refused by name where asked for: dirty logging, an in-kernel IOAPIC (the hypervisor has none),
 * XSAVE state beyond the x87/SSE registers, and {@code ins}/{@code outs} through guest page tables.
 */
public final class MshvHypervisor implements Hypervisor {
    static final Path DEVICE = Path.of("/dev/mshv");
    /** MSHV_MAX_VPS: the driver's limit on VPs per partition (drivers/hv/mshv_root.h; not in the uapi header). */
    static final int MAX_VPS = 256;
    /** What a VM here offers; dirty logging is not built, and there is no in-kernel IOAPIC. */
    static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(Capability.IRQFD, Capability.IOEVENTFD,
            Capability.GSI_ROUTING, Capability.SIGNAL_MSI, Capability.READONLY_MEMORY, Capability.IMMEDIATE_EXIT,
            Capability.SPLIT_IRQCHIP));
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
        return Availability.usable(DEVICE + " (this backend has been checked against a stand-in for the driver, "
                + "not yet run on a Microsoft Hypervisor host)");
    }

    /** {@link #CAPABILITIES} where the backend is usable, else none. */
    @Override
    public Set<Capability> capabilities() {
        return availability().usable() ? CAPABILITIES : EnumSet.noneOf(Capability.class);
    }

    /** What a running VM's VPs and devices ask of the driver: run, hypercalls (registers, interrupts), eventfds, routes. */
    @Override
    public Set<Long> runtimeIoctls() {
        return Set.of(MshvIoctls.MSHV_RUN_VP, MshvIoctls.MSHV_ROOT_HVCALL, MshvIoctls.MSHV_IRQFD, MshvIoctls.MSHV_IOEVENTFD,
                MshvIoctls.MSHV_SET_MSI_ROUTING, MshvIoctls.MSHV_GET_VP_STATE, MshvIoctls.MSHV_SET_VP_STATE);
    }

    @Override
    public int maxVcpus() {
        return availability().usable() ? MAX_VPS : 0;
    }

    /** A partition on a newly opened /dev/mshv; refused, with the reason, where the backend is unusable. */
    @Override
    public Vm createVm(VmOptions options) {
        Availability a = availability();
        if (!a.usable()) {
            throw new HypervisorException("mshv: " + a.reason());
        }
        try (MshvSystemFd system = MshvSystemFd.open()) {
            return createVm(options, system);
        }
    }

    /**
     * A VM on {@code system}: a partition created with {@link #PT_FLAGS}, initialized, CPUID intercepted (the
     * partition keeps its own descriptor, so {@code system} may be closed after). The tests call it with a stand-in.
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
