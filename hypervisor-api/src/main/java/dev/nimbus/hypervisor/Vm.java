package dev.nimbus.hypervisor;

import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.host.EventFd;

import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A virtual machine created by a {@link Hypervisor}: its memory slots, vCPUs, interrupt controller and
 * the eventfd plumbing that lets devices run without vCPU exits.
 *
 * <p>Order of set-up, as the VMM's machine builder does it: memory regions, {@link #createIrqChip}, every
 * {@link #createVcpu}, then {@link IrqChip#finishSetup()}, then interrupt routes and eventfds.
 *
 * <p>{@link #close()} releases everything the VM owns, its vCPUs included; guest memory belongs to the
 * caller and outlives the VM.
 */
public interface Vm extends AutoCloseable {
    /** The architecture of the guest (the host's). */
    Arch arch();

    /** Installs or replaces memory slot {@code region.slot()}. */
    void setMemoryRegion(MemoryRegion region);

    /** Removes memory slot {@code slot}. */
    void removeMemoryRegion(int slot);

    /**
     * The pages of slot {@code slot} written since the previous call (bit i = page i of the slot), and
     * resets the record. The slot must have been installed with {@code logDirty}.
     */
    BitSet dirtyLog(int slot);

    /** Creates the in-kernel interrupt controller. Once per VM, before any vCPU. */
    IrqChip createIrqChip(IrqChipConfig config);

    /** The interrupt controller, once created. */
    Optional<IrqChip> irqChip();

    /** Creates vCPU {@code id}. Ids run from 0 to {@link Hypervisor#maxVcpus()} - 1. */
    Vcpu createVcpu(int id);

    /** Makes a signal on {@code fd} raise global interrupt {@code gsi}. Needs {@link Capability#IRQFD}. */
    void registerIrqfd(EventFd fd, int gsi);

    void unregisterIrqfd(EventFd fd, int gsi);

    /**
     * Makes a guest write at {@code address} signal {@code fd} instead of exiting; with {@code datamatch}
     * only writes of that value do. Needs {@link Capability#IOEVENTFD}.
     */
    void registerIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch);

    void unregisterIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch);

    /** Replaces the whole interrupt routing table. Needs {@link Capability#GSI_ROUTING}. */
    void setGsiRouting(List<GsiRoute> routes);

    /** This VM seen as an architecture sub-interface (for example clock control on x86-64). */
    default <T> T as(Class<T> type) {
        if (type.isInstance(this)) {
            return type.cast(this);
        }
        throw new UnsupportedOperationException("this VM (" + getClass().getSimpleName() + ") has no " + type.getSimpleName());
    }

    @Override
    void close();
}
