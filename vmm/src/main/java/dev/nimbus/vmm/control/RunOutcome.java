package dev.nimbus.vmm.control;

/** How a VM's run ended, for a front end that waits for it (the command line). */
public sealed interface RunOutcome {
    /** The guest powered off, or the VM was shut down through the API. */
    record PoweredOff(String how) implements RunOutcome {}

    /** The VM stopped on an error; {@code message} says why (with a failed vCPU's registers). */
    record Failed(String message) implements RunOutcome {}

    /** The guest kept rebooting. */
    record RebootLoop(int reboots) implements RunOutcome {}
}
