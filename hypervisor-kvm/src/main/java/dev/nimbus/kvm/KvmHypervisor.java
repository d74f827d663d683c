package dev.nimbus.kvm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.sys.Errno;
import dev.nimbus.hypervisor.sys.Ioctl;
import dev.nimbus.hypervisor.sys.LibC;
import dev.nimbus.hypervisor.sys.SyscallException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The KVM backend's entry point, found through {@link java.util.ServiceLoader}. Usable when /dev/kvm can
 * be opened and speaks API version 12.
 */
public final class KvmHypervisor implements Hypervisor {
    static final Path DEVICE = Path.of("/dev/kvm");
    private static final int KVMIO = 0xAE;
    private static final long KVM_GET_API_VERSION = Ioctl.io(KVMIO, 0x00);
    private static final int KVM_API_VERSION = 12;

    @Override
    public String name() {
        return "kvm";
    }

    @Override
    public Set<Arch> architectures() {
        return EnumSet.allOf(Arch.class);
    }

    @Override
    public Availability availability() {
        if (!Files.exists(DEVICE)) {
            return Availability.unusable(DEVICE + " does not exist (the kvm module is not loaded, or this host has no hardware virtualization)");
        }
        int fd;
        try {
            fd = LibC.open(DEVICE.toString(), LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            String hint = e.errno() == Errno.EACCES ? " (add the user to the kvm group)" : "";
            return Availability.unusable("cannot open " + DEVICE + ": " + Errno.describe(e.errno()) + hint);
        }
        try {
            int version = LibC.ioctl(fd, KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
            if (version != KVM_API_VERSION) {
                return Availability.unusable(DEVICE + " speaks KVM API version " + version + ", not " + KVM_API_VERSION);
            }
            return Availability.usable(DEVICE + ", API version " + version);
        } catch (SyscallException e) {
            return Availability.unusable(e.getMessage());
        } finally {
            LibC.close(fd);
        }
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.noneOf(Capability.class);
    }

    @Override
    public int maxVcpus() {
        return 0;
    }

    @Override
    public Vm createVm(VmOptions options) {
        Availability a = availability();
        if (!a.usable()) {
            throw new HypervisorException("kvm: " + a.reason());
        }
        throw new HypervisorException("kvm: creating VMs is not implemented yet");
    }
}
