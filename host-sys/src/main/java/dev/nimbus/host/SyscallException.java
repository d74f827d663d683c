package dev.nimbus.host;

/**
 * A system call or ioctl returned -1. Carries the call's name and the errno it set. The VMM treats it as a
 * hypervisor or host failure wherever it catches {@code HypervisorException} (the SPI's, which the host
 * layer below it cannot extend).
 */
public final class SyscallException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int errno;

    public SyscallException(String call, int errno) {
        super(call + " failed: " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    public SyscallException(String call, int errno, String detail) {
        super(call + " failed: " + Errno.describe(errno) + ": " + detail);
        this.call = call;
        this.errno = errno;
    }

    /** The name of the failed call, for example {@code KVM_CREATE_VM} or {@code open(/dev/kvm)}. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
