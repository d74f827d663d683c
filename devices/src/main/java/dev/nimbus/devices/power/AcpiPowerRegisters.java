package dev.nimbus.devices.power;

import dev.nimbus.devices.bus.ByteRegisterDevice;
import dev.nimbus.hypervisor.arch.PlatformDevice.AcpiPowerControl;

import java.lang.System.Logger.Level;
import java.util.Objects;

/**
 * The sleep control, sleep status and reset registers of a hardware-reduced ACPI machine, which the FADT
 * points at (layout and values in {@link AcpiPowerControl}: sleep control at offset 0, sleep status at 1,
 * reset at 2, one byte each).
 *
 * <p>A write to sleep control with SLP_EN and the {@code _S5} sleep type (Linux writes 0x34) asks the VMM to
 * power off; writing the reset value (1) to the reset register asks it to reset. Other sleep types are not
 * offered by the DSDT and are ignored (logged once), as are other writes; every register reads 0, so the
 * wake status bit never sets.
 */
public final class AcpiPowerRegisters extends ByteRegisterDevice {
    private static final System.Logger LOG = System.getLogger(AcpiPowerRegisters.class.getName());

    private final PowerControl power;
    private boolean otherSleepLogged;

    public AcpiPowerRegisters(PowerControl power) {
        this.power = Objects.requireNonNull(power, "power");
    }

    @Override
    public String name() {
        return "ACPI power registers";
    }

    @Override
    protected int readByte(int offset) {
        return 0;
    }

    @Override
    protected void writeByte(int offset, int value) {
        switch (offset) {
            case AcpiPowerControl.SLEEP_CONTROL_OFFSET -> {
                if (AcpiPowerControl.isPowerOff(value)) {
                    power.requestPowerOff();
                } else if ((value & AcpiPowerControl.SLP_EN) != 0) {
                    logOtherSleep(value);
                }
            }
            case AcpiPowerControl.RESET_OFFSET -> {
                if (value == AcpiPowerControl.RESET_VALUE) {
                    power.requestReset();
                }
            }
            default -> {
                // Sleep status: writing 1 to the wake status bit clears it, and it is never set.
            }
        }
    }

    private synchronized void logOtherSleep(int value) {
        if (!otherSleepLogged) {
            otherSleepLogged = true;
            LOG.log(Level.INFO, String.format("ACPI: the guest asked for sleep type %d (sleep control 0x%02x); only S5 (type %d) is offered, ignored",
                    (value >> AcpiPowerControl.SLP_TYP_SHIFT) & 7, value, AcpiPowerControl.S5_SLEEP_TYPE));
        }
    }
}
