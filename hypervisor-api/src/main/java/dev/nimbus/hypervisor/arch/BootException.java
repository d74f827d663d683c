package dev.nimbus.hypervisor.arch;

/**
 * A kernel, initramfs or command line cannot be booted: the message says what was wrong and what was
 * found instead ({@code kernel vmlinuz: not a bzImage (no HdrS magic at 0x202) and not an ELF file}).
 */
public final class BootException extends Exception {
    private static final long serialVersionUID = 1L;

    public BootException(String message) {
        super(message);
    }

    public BootException(String message, Throwable cause) {
        super(message, cause);
    }
}
