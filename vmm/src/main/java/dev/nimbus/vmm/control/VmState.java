package dev.nimbus.vmm.control;

/** The states of a VM, as {@code vm.info} reports them (Cloud Hypervisor's names). */
public enum VmState {
    /** {@code vm.create} accepted the configuration; nothing is built yet. */
    CREATED("Created"),
    /** Booted: the vCPUs run the guest. */
    RUNNING("Running"),
    /** Booted, with every vCPU parked outside the guest. */
    PAUSED("Paused"),
    /** The guest powered off, failed, or was shut down; {@code vm.boot} starts it again. */
    SHUTDOWN("Shutdown");

    private final String apiName;

    VmState(String apiName) {
        this.apiName = apiName;
    }

    /** The name in the API's JSON. */
    public String apiName() {
        return apiName;
    }
}
