package dev.nimbus.hypervisor.arch;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.util.List;
import java.util.Set;

/**
 * What one architecture contributes to a machine: its memory layout, its platform devices, its interrupt
 * controller, its firmware tables and its boot protocols. Offered by the {@code arch-*} modules through
 * {@link java.util.ServiceLoader}; the host's architecture picks one ({@link ArchPlatforms}).
 *
 * <p>An arch platform speaks to the hypervisor only through this SPI (vCPU sub-interfaces such as
 * {@code X86Vcpu}, {@link IrqChipConfig}) and never to a backend directly. Its methods other than
 * {@link #loadKernel} are pure functions of their arguments.
 */
public interface ArchPlatform {
    Arch arch();

    /** The most vCPUs this machine model supports (APIC ids, GIC redistributors, ...). */
    int maxVcpus();

    /** The guest physical address layout for {@code ramBytes} of RAM. */
    MachineLayout layout(long ramBytes);

    /** The platform devices of this machine model (serial port, RTC, ...), at their places in {@code layout}. */
    List<PlatformDevice> platformDevices(MachineLayout layout);

    /** The in-kernel interrupt controller to create for {@code vcpus} vCPUs. */
    IrqChipConfig interruptController(MachineLayout layout, int vcpus);

    /**
     * The interrupt controller to ask a hypervisor offering {@code offered} for, as {@code mode} wants it. The
     * default is {@link #interruptController(MachineLayout, int)} for {@link IrqChipMode#AUTO} and
     * {@link IrqChipMode#KERNEL}; a machine model without a choice refuses {@link IrqChipMode#SPLIT}.
     *
     * @throws IllegalArgumentException when this machine model or the hypervisor cannot have {@code mode}; the
     *         message says why in words a user can act on
     */
    default IrqChipConfig interruptController(MachineLayout layout, int vcpus, IrqChipMode mode, Set<Capability> offered) {
        if (mode == IrqChipMode.SPLIT) {
            throw new IllegalArgumentException("split: the " + arch().id() + " machine has no IOAPIC to move out of the hypervisor");
        }
        return interruptController(layout, vcpus);
    }

    /**
     * The platform devices of this machine model with interrupt controller {@code chip} for {@code vcpus} vCPUs:
     * {@link #platformDevices(MachineLayout)}, plus what the VMM must emulate because the hypervisor does not
     * (the x86-64 IOAPIC with {@link IrqChipConfig.X86Split}).
     */
    default List<PlatformDevice> platformDevices(MachineLayout layout, IrqChipConfig chip, int vcpus) {
        return platformDevices(layout);
    }

    /** The firmware tables (ACPI or FDT) that describe {@code machine} to the guest. */
    FirmwareTables firmwareTables(MachineDescription machine, String cmdline);

    /**
     * Loads the kernel and initramfs into guest memory with this architecture's boot protocol, writes the
     * boot structures and firmware tables, and says how vCPUs start.
     *
     * @throws BootException when an image is unreadable, not a kernel this platform can boot, or does not
     *         fit; the message names the file and what was found
     */
    BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException;

    /**
     * The options to create this machine's VM with: what the platform hands the backend through the SPI (on
     * x86-64 the MMIO instruction emulator a backend such as MSHV needs). The default asks for nothing.
     */
    default VmOptions vmOptions() {
        return VmOptions.defaults();
    }

    /**
     * The vCPU's registers as text, for the message that ends a VM on a fatal exit (a triple fault, an
     * internal error). Called on the vCPU's thread. Must not throw: when the state cannot be read, say so.
     */
    default String describeVcpuState(Vcpu vcpu) {
        return "vCPU " + vcpu.id() + ": no register dump for " + arch().id();
    }
}
