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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The Microsoft Hypervisor backend's entry point (/dev/mshv, Linux as the root partition), found through
 * {@link java.util.ServiceLoader}. So far it only probes the host: creating VMs on MSHV is not built yet,
 * and says so.
 */
public final class MshvHypervisor implements Hypervisor {
    static final Path DEVICE = Path.of("/dev/mshv");

    @Override
    public String name() {
        return "mshv";
    }

    @Override
    public Set<Arch> architectures() {
        return EnumSet.of(Arch.X86_64, Arch.AARCH64);
    }

    @Override
    public Availability availability() {
        if (!Files.exists(DEVICE)) {
            return Availability.unusable(DEVICE + " does not exist (this host is not a Microsoft Hypervisor root partition, or the mshv driver is not loaded)");
        }
        try {
            LibC.close(LibC.open(DEVICE.toString(), LibC.O_RDWR | LibC.O_CLOEXEC, 0));
        } catch (SyscallException e) {
            return Availability.unusable("cannot open " + DEVICE + ": " + Errno.describe(e.errno()));
        }
        return Availability.unusable(DEVICE + " is present, but the mshv backend cannot create VMs yet");
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.noneOf(Capability.class);
    }

    @Override
    public Set<Long> runtimeIoctls() {
        return Set.of(); // no VM runs on this backend yet
    }

    @Override
    public int maxVcpus() {
        return 0;
    }

    @Override
    public Vm createVm(VmOptions options) {
        throw new HypervisorException("mshv: " + availability().reason());
    }
}
