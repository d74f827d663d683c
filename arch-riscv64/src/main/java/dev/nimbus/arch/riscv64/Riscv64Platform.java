package dev.nimbus.arch.riscv64;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.util.List;

/** The riscv64 machine model. Found through {@link java.util.ServiceLoader}; the boot path is not built yet (no issue yet). */
public final class Riscv64Platform implements ArchPlatform {
    private static UnsupportedOperationException notYet(String what) {
        return new UnsupportedOperationException("riscv64: " + what + " is not implemented yet (no issue yet)");
    }

    @Override
    public Arch arch() {
        return Arch.RISCV64;
    }

    @Override
    public int maxVcpus() {
        return 1;
    }

    @Override
    public MachineLayout layout(long ramBytes) {
        throw notYet("the memory layout");
    }

    @Override
    public List<PlatformDevice> platformDevices(MachineLayout layout) {
        throw notYet("the platform devices");
    }

    @Override
    public IrqChipConfig interruptController(MachineLayout layout, int vcpus) {
        throw notYet("the interrupt controller");
    }

    @Override
    public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) {
        throw notYet("the firmware tables");
    }

    @Override
    public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) {
        throw notYet("booting a kernel");
    }
}
