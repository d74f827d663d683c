package dev.nimbus.vmm.machine;

/** How a machine's run ended. The first cause reported wins; later ones are ignored. */
public sealed interface MachineExit {
    /** The guest powered off (ACPI S5, PSCI SYSTEM_OFF, SBI shutdown), or the VMM was asked to stop it. */
    record PowerOff(String how) implements MachineExit {}

    /** The guest asked to reboot; the VMM builds the machine again from the same configuration. */
    record Reset(String how) implements MachineExit {}

    /** The VM cannot continue: a triple fault, a hypervisor error, a device that failed. */
    record Failed(String message) implements MachineExit {}
}
