package dev.nimbus.vmm.control;

import dev.nimbus.host.Landlock;
import dev.nimbus.vmm.ExitCodes;
import dev.nimbus.vmm.config.RestoreConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.snapshot.Snapshot;

import java.io.PrintWriter;

/**
 * Runs one VM from the command line until it powers off, through the same {@link VmController} the REST
 * API uses: create, boot, wait for the run to end.
 *
 * <p>Exit codes ({@link ExitCodes}): 0 the guest powered off; 1 the VM failed (the message, with the vCPU's
 * registers when a vCPU failed, is printed); 2 bad input (a kernel that cannot be loaded, a config that does
 * not fit).
 */
public final class VmRunner {
    private VmRunner() {}

    /** Creates and boots {@code config} on {@code controller} and waits for the run to end. */
    public static int run(VmController controller, VmConfig config, PrintWriter err) throws InterruptedException {
        try {
            controller.create(config);
            controller.boot();
        } catch (ControlException e) {
            err.println("nimbus: " + e.getMessage());
            return ExitCodes.of(e);
        }
        return awaitEnd(controller, err);
    }

    private static int awaitEnd(VmController controller, PrintWriter err) throws InterruptedException {
        Landlock.joinEnforced(); // the main thread too, under --landlock
        RunOutcome outcome = controller.awaitRunEnd();
        switch (outcome) {
            case RunOutcome.PoweredOff p -> { }
            case RunOutcome.Failed f -> err.println("nimbus: the VM stopped: " + f.message());
            case RunOutcome.RebootLoop r -> err.println("nimbus: the guest rebooted " + r.reboots() + " times in a row; stopping it");
        }
        return ExitCodes.of(outcome);
    }

    /**
     * Restores the snapshot {@code restore} names ({@code saved}: as the caller read it) on {@code controller},
     * running, and waits for the run to end.
     */
    public static int restore(VmController controller, RestoreConfig restore, Snapshot.Saved saved, PrintWriter err)
            throws InterruptedException {
        try {
            controller.restore(new RestoreConfig(restore.directory(), restore.prefault(), true), saved);
        } catch (ControlException e) {
            err.println("nimbus: --restore: " + e.getMessage());
            return ExitCodes.of(e);
        }
        return awaitEnd(controller, err);
    }
}
