package dev.nimbus.api;

/** Where an embedded VM is in its life, as the REST API's {@code vm.info} names it. */
public enum VmStatus {
    /** Configured and checked, not started. */
    CREATED,
    /** Its vCPUs run the guest. */
    RUNNING,
    /** Its vCPUs are parked; {@link MicroVm#resume()} continues them. */
    PAUSED,
    /** The guest powered off or the VM was shut down; {@link MicroVm#start()} boots it again. */
    SHUTDOWN,
    /** {@link MicroVm#close()} released it. */
    CLOSED
}
