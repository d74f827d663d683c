package dev.nimbus.vmm;

import dev.nimbus.vmm.control.ControlException;
import dev.nimbus.vmm.control.RunOutcome;

/**
 * The {@code nimbus} process's exit codes, mapped in this one place from what ended the run: 0 the guest
 * powered off (or an informational option such as {@code --version}), 1 the VM could not run or failed
 * (no usable hypervisor, a hypervisor error, a reboot loop), 2 bad input (an option, a file, a kernel that
 * cannot be loaded), 3 {@code --check-hypervisor} found a hypervisor that emulates guest kernel code.
 */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int VM_ERROR = 1;
    public static final int USAGE = 2;
    public static final int KERNEL_EMULATED = 3;

    private ExitCodes() {}

    /** A request the VM controller refused or failed. */
    public static int of(ControlException e) {
        return e.kind() == ControlException.Kind.BAD_REQUEST ? USAGE : VM_ERROR;
    }

    /** How a run ended. */
    public static int of(RunOutcome outcome) {
        return switch (outcome) {
            case RunOutcome.PoweredOff p -> OK;
            case RunOutcome.Failed f -> VM_ERROR;
            case RunOutcome.RebootLoop r -> VM_ERROR;
        };
    }
}
