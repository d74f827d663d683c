package dev.nimbus.hypervisor;

/**
 * A hypervisor operation failed. Thrown by backends and by the native layer; the message names the
 * operation and, where there is one, the errno ({@code KVM_CREATE_VM failed: ENOENT (No such file or
 * directory)}), so that it can be shown to a user as it is.
 */
public class HypervisorException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HypervisorException(String message) {
        super(message);
    }

    public HypervisorException(String message, Throwable cause) {
        super(message, cause);
    }
}
