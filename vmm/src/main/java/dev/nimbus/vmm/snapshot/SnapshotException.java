package dev.nimbus.vmm.snapshot;

/**
 * A snapshot that cannot be taken or restored: a destination that already holds one, a file missing,
 * truncated or corrupt, a version this build does not read, or a difference between the snapshot and this
 * host (architecture, hypervisor, a disk image's size, a tap). The message names the file and the field.
 */
public final class SnapshotException extends Exception {
    private static final long serialVersionUID = 1L;

    public SnapshotException(String message) {
        super(message);
    }

    public SnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
