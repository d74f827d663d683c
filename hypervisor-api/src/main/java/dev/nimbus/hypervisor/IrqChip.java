package dev.nimbus.hypervisor;

import java.util.List;

/**
 * A VM's in-kernel interrupt controller, created by {@link Vm#createIrqChip}. Devices raise their
 * interrupts through it (or through an irqfd bound to one of its GSIs); they never see the backend.
 * Methods may be called from any thread.
 */
public interface IrqChip {
    /** What was created. */
    IrqChipConfig config();

    /**
     * Completes the set-up that needs every vCPU to exist (the GICv3 and the AIA are initialized after all
     * vCPUs are created). Call once, after the last {@link Vm#createVcpu}; a no-op where nothing is needed.
     */
    void finishSetup();

    /** Drives the line of global interrupt {@code gsi} high or low (a pulse is {@code true} then {@code false}). */
    void setIrqLine(int gsi, boolean high);

    /** Injects one MSI. Needs {@link Capability#SIGNAL_MSI}. */
    void signalMsi(MsiMessage message);

    /**
     * The routes the chip's own interrupt lines need in the GSI routing table. {@link Vm#setGsiRouting}
     * replaces the whole table, so a VMM that adds MSI routes installs these first, followed by its own, and
     * numbers its GSIs above the highest of these. Empty where the lines do not go through the table.
     */
    default List<GsiRoute> lineRoutes() {
        return List.of();
    }

    /**
     * Whether MSIs sent to this chip must name the device that sends them ({@link MsiMessage#deviceId()}, the
     * PCI requester ID), as an Arm ITS needs to translate them. False where the message alone says where it goes.
     */
    default boolean msiNeedsDeviceId() {
        return false;
    }

    /**
     * The controller's state for a snapshot, with whatever the hypervisor keeps beside it for the VM (x86-64:
     * the PICs, the IOAPIC and the PIT; AArch64: the GICv3 distributor, redistributors, CPU interfaces and
     * ITS, whose tables this writes into guest memory, so call it before guest memory is saved). Called while
     * the machine is paused, after every vCPU's {@link Vcpu#saveState()}.
     */
    default List<dev.nimbus.hypervisor.state.StateRecord> saveState() {
        throw new UnsupportedOperationException("this interrupt controller (" + getClass().getSimpleName() + ") cannot be saved");
    }

    /**
     * Puts saved state back, into a controller made with the same configuration, after {@link #finishSetup()}
     * and after every vCPU's {@link Vcpu#restoreState}, with guest memory already restored.
     */
    default void restoreState(List<dev.nimbus.hypervisor.state.StateRecord> records) {
        throw new UnsupportedOperationException("this interrupt controller (" + getClass().getSimpleName() + ") cannot be restored");
    }
}
