package dev.nimbus.vmm.machine;

import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.VmConfig;

import javax.inject.Inject;
import java.io.PrintWriter;
import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs one VM from the command line until it powers off: builds the machine, starts it, waits, and on a
 * guest reboot builds it again from the same configuration (as Cloud Hypervisor does: a reboot is a fresh
 * machine with the same config, so nothing of the old run's device state survives).
 *
 * <p>Exit codes: 0 the guest powered off; 1 the VM failed (the message, with the vCPU's registers when a
 * vCPU failed, is printed); 2 bad input (a kernel that cannot be loaded, a config that does not fit).
 */
public final class VmRunner {
    private static final System.Logger LOG = System.getLogger(VmRunner.class.getName());
    /** A guest that reboots more often than this in one run is stopped: it is in a reboot loop. */
    static final int MAX_REBOOTS = 100;

    private final MachineBuilder builder;

    @Inject
    public VmRunner(MachineBuilder builder) {
        this.builder = builder;
    }

    public int run(VmConfig config, PrintWriter err) throws InterruptedException {
        for (int boot = 0; boot <= MAX_REBOOTS; boot++) {
            AtomicReference<Machine> current = new AtomicReference<>();
            PowerControl power = new PowerControl() {
                @Override
                public void requestPowerOff() {
                    current.get().exit(new MachineExit.PowerOff("ACPI power-off"));
                }

                @Override
                public void requestReset() {
                    current.get().exit(new MachineExit.Reset("reset request"));
                }
            };
            MachineExit exit;
            try (Machine machine = builder.build(config, power)) {
                current.set(machine);
                machine.start();
                exit = machine.awaitExit();
                for (DebugPort.BootProgress p : machine.bootProgress()) {
                    LOG.log(Level.INFO, "boot progress: {0}", p);
                }
            } catch (BootException | ConfigException e) {
                err.println("nimbus: " + e.getMessage());
                return 2;
            } catch (HypervisorException e) {
                err.println("nimbus: " + e.getMessage());
                return 1;
            }
            switch (exit) {
                case MachineExit.PowerOff p -> {
                    LOG.log(Level.INFO, "guest powered off ({0})", p.how());
                    return 0;
                }
                case MachineExit.Reset r -> LOG.log(Level.INFO, "guest rebooting ({0})", r.how());
                case MachineExit.Failed f -> {
                    err.println("nimbus: the VM stopped: " + f.message());
                    return 1;
                }
            }
        }
        err.println("nimbus: the guest rebooted " + MAX_REBOOTS + " times in a row; stopping it");
        return 1;
    }
}
