package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.machine.ScriptedBackend.Out;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** The VM lifecycle of the command line, over a scripted backend: no KVM needed. */
class VmRunnerTest {
    private static final int COM1 = 0x3f8;
    private static final int I8042 = 0x60;
    private static final int ACPI = 0x600;

    /** A machine model with a UART, an i8042 and ACPI power registers, and a kernel "loader" that loads nothing. */
    private static final class TestPlatform implements ArchPlatform {
        final AtomicInteger kernelsLoaded = new AtomicInteger();
        volatile BootException loadFailure;

        @Override
        public Arch arch() {
            return Arch.host();
        }

        @Override
        public int maxVcpus() {
            return 4;
        }

        @Override
        public MachineLayout layout(long ramBytes) {
            AddressRange none = new AddressRange(0xd000_0000L, 0x1000);
            return new MachineLayout(List.of(new AddressRange(0, ramBytes)), none, none, none, List.of());
        }

        @Override
        public List<PlatformDevice> platformDevices(MachineLayout layout) {
            return List.of(new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.UART_16550_PIO, COM1, 4),
                    new PlatformDevice.I8042(I8042, 1), new PlatformDevice.AcpiPowerControl(ACPI));
        }

        @Override
        public IrqChipConfig interruptController(MachineLayout layout, int vcpus) {
            return new IrqChipConfig.X86Legacy(0xfffb_c000L, 0xfffb_f000L, true);
        }

        @Override
        public FirmwareTables firmwareTables(MachineDescription machine, String cmdline) {
            return new FirmwareTables(List.of());
        }

        @Override
        public BootPlan loadKernel(GuestMemory memory, BootImages images, MachineDescription machine) throws BootException {
            if (loadFailure != null) {
                throw loadFailure;
            }
            kernelsLoaded.incrementAndGet();
            return new BootPlan() {
                @Override
                public String protocol() {
                    return "test";
                }

                @Override
                public long entryPoint() {
                    return 0;
                }

                @Override
                public void setupVcpu(Vcpu vcpu, int index) {
                    ((ScriptedBackend.ScriptedVcpu) vcpu).setUp = true;
                }
            };
        }

        @Override
        public String describeVcpuState(Vcpu vcpu) {
            return "RIP=0xdeadbeef (vCPU " + vcpu.id() + ")";
        }
    }

    @TempDir
    Path dir;
    private final TestPlatform platform = new TestPlatform();
    private final StringWriter err = new StringWriter();

    private VmConfig config(int cpus) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(cpus, cpus), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(dir.resolve("serial.log"))), ConsoleConfig.of(ConsoleConfig.Mode.OFF));
    }

    private int run(ScriptedBackend backend, VmConfig config) throws Exception {
        VmRunner runner = new VmRunner(new MachineBuilder(backend, platform, new PlatformDeviceWiring()));
        return runner.run(config, new PrintWriter(err, true));
    }

    private static Out out(int port, long value) {
        return new Out(port, 1, value);
    }

    @Test
    void acpiPowerOffEndsTheRunWithExitZero() throws Exception {
        ScriptedBackend backend = new ScriptedBackend().thenVm(() -> out(COM1, 'h'), () -> out(COM1, 'i'),
                () -> out(ACPI, 0x34)); // SLP_TYP=5 (S5), SLP_EN
        assertThat(run(backend, config(1))).isZero();
        assertThat(Files.readString(dir.resolve("serial.log"))).isEqualTo("hi");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void i8042ResetBuildsAFreshMachineFromTheSameConfig() throws Exception {
        ScriptedBackend backend = new ScriptedBackend()
                .thenVm(() -> out(COM1, '1'), () -> out(I8042 + 4, 0xfe))
                .thenVm(() -> out(COM1, '2'), () -> out(ACPI, 0x34));
        assertThat(run(backend, config(1))).isZero();
        assertThat(platform.kernelsLoaded).hasValue(2);
        assertThat(backend.vms).hasSize(2).allMatch(vm -> vm.closed);
        // the serial file is opened anew for each boot, as the second machine has its own UART
        assertThat(Files.readString(dir.resolve("serial.log"))).isEqualTo("2");
    }

    @Test
    void tripleFaultEndsTheRunWithTheRegistersAndExitOne() throws Exception {
        ScriptedBackend backend = new ScriptedBackend().thenVm(() -> new VcpuExit.Shutdown("KVM_EXIT_SHUTDOWN"));
        assertThat(run(backend, config(1))).isEqualTo(1);
        assertThat(err.toString()).contains("vCPU 0: the guest shut down the CPU (triple fault)", "RIP=0xdeadbeef (vCPU 0)");
    }

    @Test
    void systemEventResetRebootsAndPowerOffEnds() throws Exception {
        ScriptedBackend backend = new ScriptedBackend()
                .thenVm(() -> new VcpuExit.SystemEvent(VcpuExit.SystemEvent.Kind.RESET, 2))
                .thenVm(() -> new VcpuExit.SystemEvent(VcpuExit.SystemEvent.Kind.POWER_OFF, 1));
        assertThat(run(backend, config(2))).isZero();
        assertThat(platform.kernelsLoaded).hasValue(2);
    }

    @Test
    void everyVcpuIsSetUpAndEverythingIsClosedAfterTheRun() throws Exception {
        ScriptedBackend backend = new ScriptedBackend().thenVm(() -> out(ACPI, 0x34));
        assertThat(run(backend, config(3))).isZero();
        ScriptedBackend.ScriptedVm vm = backend.vms.getFirst();
        assertThat(vm.vcpus).hasSize(3).allMatch(v -> v.setUp).allMatch(v -> v.closed);
        assertThat(vm.closed).isTrue();
        assertThat(vm.regions).hasSize(1);
    }

    @Test
    void aKernelThatCannotBeLoadedIsBadInputAndReleasesTheVm() throws Exception {
        platform.loadFailure = new BootException("kernel vmlinuz: not a bzImage and not an ELF file");
        ScriptedBackend backend = new ScriptedBackend();
        assertThat(run(backend, config(1))).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("nimbus: kernel vmlinuz: not a bzImage and not an ELF file\n");
        assertThat(backend.vms).hasSize(1).allMatch(vm -> vm.closed);
    }

    @Test
    void moreVcpusThanTheHostSupportsIsBadInput() throws Exception {
        assertThat(run(new ScriptedBackend(), config(5))).isEqualTo(2);
        assertThat(err.toString()).contains("--cpus boot: 5 is more than this host supports (4 with scripted on");
    }

    @Test
    void serialInterruptReachesTheInterruptController() throws Exception {
        // enable the UART's transmit-empty interrupt (IER bit 1) and its OUT2 gate (MCR bit 3): IRQ 4 rises
        ScriptedBackend backend = new ScriptedBackend().thenVm(() -> out(COM1 + 4, 0x08), () -> out(COM1 + 1, 0x02),
                () -> out(ACPI, 0x34));
        assertThat(run(backend, config(1))).isZero();
        assertThat(backend.vms.getFirst().irqEvents).contains("4+");
    }
}
