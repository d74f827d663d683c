package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.x86.InstructionEmulator;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.control.VmRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The machine builder creates the VM with the options the arch platform gives ({@code ArchPlatform.vmOptions()}):
 * how the x86-64 platform's MMIO instruction emulator reaches a backend that needs one (MSHV) through the SPI.
 */
class VmOptionsWiringTest {
    @TempDir
    Path dir;

    static final InstructionEmulator EMULATOR = (instruction, count, mode, registers, gpa, memory) ->
            new InstructionEmulator.Outcome.CannotEmulate("a stand-in");

    @Test
    void theVmIsCreatedWithThePlatformsOptions() throws Exception {
        ScriptedBackend scripted = new ScriptedBackend().thenVm(() -> new ScriptedBackend.Out(ScriptedPlatform.ACPI, 1, 0x34));
        List<VmOptions> seen = new CopyOnWriteArrayList<>();
        Hypervisor recording = new Hypervisor() {
            @Override public String name() { return scripted.name(); }
            @Override public Availability availability() { return scripted.availability(); }
            @Override public Set<Arch> architectures() { return scripted.architectures(); }
            @Override public Set<Capability> capabilities() { return scripted.capabilities(); }
            @Override public int maxVcpus() { return scripted.maxVcpus(); }
            @Override public Set<Long> runtimeIoctls() { return scripted.runtimeIoctls(); }
            @Override public Vm createVm(VmOptions options) {
                seen.add(options);
                return scripted.createVm(options);
            }
        };
        ScriptedPlatform base = new ScriptedPlatform();
        ArchPlatform platform = new ArchPlatform() {
            @Override public Arch arch() { return base.arch(); }
            @Override public int maxVcpus() { return base.maxVcpus(); }
            @Override public MachineLayout layout(long ramBytes) { return base.layout(ramBytes); }
            @Override public List<PlatformDevice> platformDevices(MachineLayout layout) { return base.platformDevices(layout); }
            @Override public IrqChipConfig interruptController(MachineLayout layout, int vcpus) { return base.interruptController(layout, vcpus); }
            @Override public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) { return base.firmwareTables(machine, cmdline); }
            @Override public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException {
                return base.loadKernel(memory, images, machine);
            }
            @Override public String describeVcpuState(Vcpu vcpu) { return base.describeVcpuState(vcpu); }
            @Override public VmOptions vmOptions() { return VmOptions.defaults().withInstructionEmulator(EMULATOR); }
        };
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        VmConfig config = new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                ConsoleConfig.of(ConsoleConfig.Mode.OFF), ConsoleConfig.of(ConsoleConfig.Mode.OFF));
        try (VmController controller = new VmController(TestMachines.builder(recording, platform))) {
            assertThat(VmRunner.run(controller, config, new PrintWriter(new StringWriter(), true))).isZero();
        }
        assertThat(seen).hasSize(1);
        assertThat(seen.getFirst().emulator()).containsSame(EMULATOR);
    }
}
