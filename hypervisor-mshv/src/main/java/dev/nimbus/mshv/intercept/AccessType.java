package dev.nimbus.mshv.intercept;

import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvConstants;

/** An intercept's {@code intercept_access_type}: a port or memory read ({@code in}), a write ({@code out}), an instruction fetch. */
public enum AccessType {
    READ, WRITE, EXECUTE;

    static AccessType of(int value) {
        return switch (value) {
            case HvConstants.HV_INTERCEPT_ACCESS_READ -> READ;
            case HvConstants.HV_INTERCEPT_ACCESS_WRITE -> WRITE;
            case HvConstants.HV_INTERCEPT_ACCESS_EXECUTE -> EXECUTE;
            default -> throw new HypervisorException("mshv: intercept access type " + value + " is not read (0), write (1) or execute (2)");
        };
    }
}
