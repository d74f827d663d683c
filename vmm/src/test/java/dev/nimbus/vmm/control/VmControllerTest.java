package dev.nimbus.vmm.control;

import dev.nimbus.vmm.machine.TestMachines;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.machine.MachineBuilder;
import dev.nimbus.vmm.machine.ScriptedBackend;
import dev.nimbus.vmm.machine.ScriptedBackend.Out;
import dev.nimbus.vmm.machine.ScriptedPlatform;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The VM lifecycle every front end shares, over a scripted backend: no KVM needed. */
class VmControllerTest {
    @TempDir
    Path dir;
    private final ScriptedPlatform platform = new ScriptedPlatform();
    private ScriptedBackend backend = new ScriptedBackend();
    private VmController controller;

    private VmController controller() {
        controller = new VmController(TestMachines.builder(backend, platform));
        return controller;
    }

    @AfterEach
    void close() {
        if (controller != null) {
            controller.close();
        }
    }

    private VmConfig config(int cpus) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(cpus, cpus), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(dir.resolve("serial.log"))), ConsoleConfig.of(ConsoleConfig.Mode.OFF));
    }

    private static ScriptedBackend.Out out(int port, long value) {
        return new Out(port, 1, value);
    }

    /** Waits (up to 10 s) until the guest's serial output is {@code text}: the scripted writes have run. */
    private void awaitSerial(String text) throws Exception {
        Path log = dir.resolve("serial.log");
        for (int i = 0; i < 1000; i++) {
            if (Files.exists(log) && Files.readString(log).equals(text)) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("serial output never became '" + text + "'");
    }

    @Test
    void createThenBootRunsTheVmAndInfoSaysSo() throws Exception {
        VmController c = controller();
        c.create(config(2));
        assertThat(c.info().state()).isEqualTo(VmState.CREATED);
        c.boot();
        assertThat(c.info().state()).isEqualTo(VmState.RUNNING);
        assertThat(c.info().memoryActualSize()).isEqualTo(32L << 20);
    }

    @Test
    void pauseParksEveryVcpuAndResumeRestoresTheGuestClock() throws Exception {
        VmController c = controller();
        c.create(config(2));
        c.boot();
        c.pause();
        assertThat(c.info().state()).isEqualTo(VmState.PAUSED);
        ScriptedBackend.ScriptedVm vm = backend.vms.getFirst();
        vm.clock = 9_999_999; // the hypervisor's clock ran on while the guest was paused
        c.resume();
        assertThat(c.info().state()).isEqualTo(VmState.RUNNING);
        assertThat(vm.clockSets).containsExactly(1_000_000L);
    }

    @Test
    void countersCountEachDevicesRegisterAccesses() throws Exception {
        backend = new ScriptedBackend().thenVm(() -> out(ScriptedPlatform.COM1, 'h'), () -> out(ScriptedPlatform.COM1, 'i'));
        VmController c = controller();
        c.create(config(1));
        assertThat(c.counters()).isEmpty();
        c.boot();
        awaitSerial("hi");
        assertThat(c.counters()).containsKey("serial 16550A");
        assertThat(c.counters().get("serial 16550A")).containsEntry("writes", 2L).containsEntry("reads", 0L);
    }

    @Test
    void guestPowerOffEndsTheRunAndTheVmCanBootAgain() throws Exception {
        backend = new ScriptedBackend().thenVm(() -> out(ScriptedPlatform.ACPI, 0x34));
        VmController c = controller();
        c.create(config(1));
        c.boot();
        assertThat(c.awaitRunEnd()).isEqualTo(new RunOutcome.PoweredOff("ACPI power-off"));
        assertThat(c.info().state()).isEqualTo(VmState.SHUTDOWN);
        c.boot();
        assertThat(c.info().state()).isEqualTo(VmState.RUNNING);
        assertThat(backend.vms).hasSize(2);
        assertThat(backend.vms.getFirst().closed).isTrue();
    }

    @Test
    void shutdownReleasesTheMachineAndKeepsTheConfig() throws Exception {
        VmController c = controller();
        c.create(config(1));
        c.boot();
        c.shutdown();
        assertThat(c.info().state()).isEqualTo(VmState.SHUTDOWN);
        assertThat(backend.vms.getFirst().closed).isTrue();
        assertThat(c.awaitRunEnd()).isEqualTo(new RunOutcome.PoweredOff("vm.shutdown"));
    }

    @Test
    void rebootBuildsAFreshMachine() throws Exception {
        VmController c = controller();
        c.create(config(1));
        c.boot();
        c.reboot();
        assertThat(backend.vms).hasSize(2);
        assertThat(backend.vms.getFirst().closed).isTrue();
        assertThat(platform.kernelsLoaded).hasValue(2);
        assertThat(c.info().state()).isEqualTo(VmState.RUNNING);
    }

    @Test
    void pausingAVmThatIsNotRunningIsTheWrongState() throws Exception {
        VmController c = controller();
        c.create(config(1));
        assertThatThrownBy(c::pause).isInstanceOf(ControlException.class)
                .hasMessage("vm.pause: the VM is Created, not Running")
                .extracting(e -> ((ControlException) e).kind()).isEqualTo(ControlException.Kind.WRONG_STATE);
        assertThatThrownBy(c::resume).hasMessage("vm.resume: the VM is Created, not Paused");
        assertThatThrownBy(c::shutdown).hasMessage("vm.shutdown: the VM is Created, not booted");
    }

    @Test
    void requestsWithoutAVmSayThereIsNone() {
        VmController c = controller();
        assertThatThrownBy(c::info).isInstanceOf(ControlException.class).hasMessage("no VM has been created (vm.create first)")
                .extracting(e -> ((ControlException) e).kind()).isEqualTo(ControlException.Kind.NO_VM);
        assertThatThrownBy(c::boot).hasMessage("no VM has been created (vm.create first)");
    }

    @Test
    void aSecondCreateIsTheWrongStateAndDeleteForgetsTheVm() throws Exception {
        VmController c = controller();
        c.create(config(1));
        assertThatThrownBy(() -> c.create(config(1))).hasMessage("a VM is already created (vm.delete it first)");
        c.boot();
        c.delete();
        assertThat(backend.vms.getFirst().closed).isTrue();
        assertThatThrownBy(c::info).hasMessage("no VM has been created (vm.create first)");
        c.create(config(1));
    }

    @Test
    void powerButtonPulsesTheGenericEventDevicesInterruptWithThePowerButtonEventPending() throws Exception {
        VmController c = controller();
        c.create(config(1));
        c.boot();
        c.powerButton();
        assertThat(backend.vms.getFirst().irqEvents).containsSubsequence(ScriptedPlatform.GED_GSI + "+", ScriptedPlatform.GED_GSI + "-");
        assertThat(c.info().state()).isEqualTo(VmState.RUNNING); // the guest decides what the press means
    }

    @Test
    void powerButtonNeedsARunningVm() throws Exception {
        VmController c = controller();
        c.create(config(1));
        assertThatThrownBy(c::powerButton).hasMessage("vm.power-button: the VM is Created, not Running")
                .extracting(e -> ((ControlException) e).kind()).isEqualTo(ControlException.Kind.WRONG_STATE);
        c.boot();
        c.pause();
        assertThatThrownBy(c::powerButton).hasMessage("vm.power-button: the VM is Paused, not Running");
    }

    @Test
    void aMachineWithoutAPowerButtonSaysSo() throws Exception {
        platform.powerButton = false;
        VmController c = controller();
        c.create(config(1));
        c.boot();
        assertThatThrownBy(c::powerButton).isInstanceOf(ControlException.class)
                .hasMessage("vm.power-button: this machine has no power button (Nimbus has an ACPI one on x86_64 only)")
                .extracting(e -> ((ControlException) e).kind()).isEqualTo(ControlException.Kind.WRONG_STATE);
    }

    @Test
    void aConfigTheHostCannotRunIsABadRequestAtCreate() throws Exception {
        VmController c = controller();
        assertThatThrownBy(() -> c.create(config(5))).isInstanceOf(ControlException.class)
                .hasMessageContaining("--cpus boot: 5 is more than this host supports")
                .extracting(e -> ((ControlException) e).kind()).isEqualTo(ControlException.Kind.BAD_REQUEST);
    }

    @Test
    void vmmShutdownDeletesTheVmAndReleasesWaiters() throws Exception {
        VmController c = controller();
        c.create(config(1));
        c.boot();
        c.shutdownVmm();
        c.awaitVmmShutdown();
        assertThat(backend.vms.getFirst().closed).isTrue();
    }
}
