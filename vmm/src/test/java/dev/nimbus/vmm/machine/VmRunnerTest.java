package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.control.VmRunner;
import dev.nimbus.vmm.machine.ScriptedBackend.Out;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The VM lifecycle of the command line, over a scripted backend: no KVM needed. */
class VmRunnerTest {
    private static final int COM1 = ScriptedPlatform.COM1;
    private static final int I8042 = ScriptedPlatform.I8042;
    private static final int ACPI = ScriptedPlatform.ACPI;

    @TempDir
    Path dir;
    private final ScriptedPlatform platform = new ScriptedPlatform();
    private final StringWriter err = new StringWriter();

    private VmConfig config(int cpus) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(cpus, cpus), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(dir.resolve("serial.log"))), ConsoleConfig.of(ConsoleConfig.Mode.OFF));
    }

    private int run(ScriptedBackend backend, VmConfig config) throws Exception {
        try (VmController controller = new VmController(TestMachines.builder(backend, platform))) {
            return VmRunner.run(controller, config, new PrintWriter(err, true));
        }
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

    /** An SBI call as a backend hands it over, recording the answer. */
    private static final class Sbi implements VcpuExit.SbiCall {
        final long extension;
        long error = 99;
        long value = 99;

        Sbi(long extension) {
            this.extension = extension;
        }

        @Override public long extension() { return extension; }
        @Override public long function() { return 0; }
        @Override public long arg(int index) { return 0; }

        @Override
        public void respond(long error, long value) {
            this.error = error;
            this.value = value;
        }
    }

    @Test
    void anSbiCallTheVmmDoesNotImplementIsAnsweredNotSupportedAndTheGuestGoesOn() throws Exception {
        Sbi vendor = new Sbi(0x0900_0000L);
        ScriptedBackend backend = new ScriptedBackend().thenVm(() -> vendor, () -> out(COM1, 'k'), () -> out(ACPI, 0x34));
        assertThat(run(backend, config(1))).isZero();
        assertThat(vendor.error).isEqualTo(VcpuExit.SbiCall.ERR_NOT_SUPPORTED);
        assertThat(vendor.value).isZero();
        assertThat(Files.readString(dir.resolve("serial.log"))).isEqualTo("k");
        assertThat(err.toString()).isEmpty();
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
    void aKernelThatCannotBeLoadedIsBadInputAndNothingIsCreatedOrTouched() throws Exception {
        platform.loadFailure = new BootException("kernel vmlinuz: not a bzImage and not an ELF file");
        Files.writeString(dir.resolve("serial.log"), "kept from an earlier run\n");
        ScriptedBackend backend = new ScriptedBackend();
        assertThat(run(backend, config(1))).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("nimbus: kernel vmlinuz: not a bzImage and not an ELF file\n");
        assertThat(backend.vms).as("the kernel is checked before a VM is made").isEmpty();
        assertThat(Files.readString(dir.resolve("serial.log"))).as("the serial file is not truncated by a refused boot")
                .isEqualTo("kept from an earlier run\n");
    }

    @Test
    void addressBitsTooFewForTheMachinesLayoutAreBadInputBeforeAnythingIsMade() throws Exception {
        VmConfig c = config(1);
        VmConfig narrow = new VmConfig(new CpusConfig(1, 1, 32), new MemoryConfig(5L << 30), c.payload(), c.serial(), c.console());
        ScriptedBackend backend = new ScriptedBackend();
        assertThat(run(backend, narrow)).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("nimbus: --cpus max_phys_bits: 32 bits address 4 GiB, but this machine's memory "
                + "and 64-bit PCI window reach 0x140000000 (33 bits)\n");
        assertThat(backend.vms).isEmpty();
    }

    @Test
    void moreVcpusThanTheHostSupportsIsBadInput() throws Exception {
        assertThat(run(new ScriptedBackend(), config(5))).isEqualTo(2);
        assertThat(err.toString()).contains("--cpus boot: 5 is more than this host supports (4 with scripted on");
    }

    @Test
    void aSplitIrqchipTheMachineCannotHaveIsBadInputNamingTheOption() throws Exception {
        VmConfig c = config(1);
        VmConfig split = new VmConfig(c.cpus(), c.memory(), c.payload(), c.serial(), c.console(), c.disks(), c.nets(), c.rng(),
                dev.nimbus.vmm.config.PlatformConfig.parse("irqchip=split"), c.landlock());
        ScriptedBackend backend = new ScriptedBackend();
        assertThat(run(backend, split)).isEqualTo(2);
        assertThat(err.toString()).startsWith("nimbus: --platform irqchip: split: the ").contains("has no IOAPIC");
        assertThat(backend.vms).isEmpty();
    }

    /**
     * The split irqchip through the whole VMM, scripted: the guest programs the userspace IOAPIC's pin 4 (level,
     * vector 0x31) by MMIO, the UART raises IRQ 4 and keeps it high, and the hypervisor reports the EOI of 0x31:
     * the vCPU loop hands it to the IOAPIC, which sends the message again. No in-kernel line is driven.
     */
    @Test
    void withTheSplitIrqchipTheUartsLineIsAnMsiAndAnEoiWithTheLineHighSendsItAgain() throws Exception {
        VmConfig c = config(1);
        VmConfig split = new VmConfig(c.cpus(), c.memory(), c.payload(), c.serial(), c.console(), c.disks(), c.nets(), c.rng(),
                dev.nimbus.vmm.config.PlatformConfig.parse("irqchip=split"), c.landlock());
        long ioapic = ScriptedPlatform.IOAPIC;
        ScriptedBackend backend = new ScriptedBackend().thenVm(
                () -> new ScriptedBackend.MmioOut(ioapic, 4, 0x10 + 2 * 4),   // IOREGSEL: pin 4, low half
                () -> new ScriptedBackend.MmioOut(ioapic + 0x10, 4, 0x31 | 1 << 15), // IOWIN: vector 0x31, level, unmasked
                () -> out(COM1 + 4, 0x08), () -> out(COM1 + 1, 0x02),        // the UART's THR-empty interrupt: IRQ 4 high
                () -> new VcpuExit.IoapicEoi(0x31),
                () -> out(ACPI, 0x34));
        backend.capabilities = java.util.EnumSet.of(dev.nimbus.hypervisor.Capability.SPLIT_IRQCHIP);
        assertThat(run(backend, split)).as(err.toString()).isZero();
        ScriptedBackend.ScriptedVm vm = backend.vms.getFirst();
        assertThat(vm.irqChip().orElseThrow().config()).isInstanceOf(dev.nimbus.hypervisor.IrqChipConfig.X86Split.class);
        assertThat(vm.msis).extracting(dev.nimbus.hypervisor.MsiMessage::data).containsExactly(0xc031, 0xc031);
        assertThat(vm.irqEvents).isEmpty();
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
