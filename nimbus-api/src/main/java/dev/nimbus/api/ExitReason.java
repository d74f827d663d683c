package dev.nimbus.api;

/** How an embedded VM's run ended: {@link MicroVm#exit()} completes with one of these. */
public sealed interface ExitReason {
    /**
     * The guest powered off, or the VM was shut down or closed.
     *
     * @param how which: {@code ACPI power-off}, {@code vm.shutdown}, {@code vm.delete}...
     */
    record PoweredOff(String how) implements ExitReason {}

    /**
     * The VM stopped on an error: a failed vCPU, a device that could not go on.
     *
     * @param message what failed, with a failed vCPU's registers
     */
    record Failed(String message) implements ExitReason {}

    /**
     * The guest kept rebooting and was stopped.
     *
     * @param reboots how many times in a row it rebooted
     */
    record RebootLoop(int reboots) implements ExitReason {}
}
