package dev.nimbus.kvm.fd;

import dev.nimbus.host.IoctlFd;
import dev.nimbus.host.NativeIoctl;
import dev.nimbus.hypervisor.HypervisorException;

/**
 * The four kinds of KVM file descriptor: {@link IoctlFd} (in {@code host-sys}, shared with the MSHV backend)
 * owns the descriptor, closes it once, repeats an ioctl interrupted before it did anything (EINTR) and turns
 * -1/errno into a {@link dev.nimbus.host.SyscallException} naming the ioctl ({@code KVM_CREATE_VCPU failed:
 * EEXIST (File exists)}); {@code KVM_RUN} alone is made once ({@code ioctlOnce}), since EINTR there is how a
 * kick arrives. A call on a closed descriptor is a {@link HypervisorException}.
 */
abstract sealed class KvmFd extends IoctlFd permits KvmSystemFd, KvmVmFd, KvmVcpuFd, KvmDeviceFd {
    KvmFd(int fd, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
    }

    @Override
    protected RuntimeException closedError(String message) {
        return new HypervisorException(message);
    }
}
