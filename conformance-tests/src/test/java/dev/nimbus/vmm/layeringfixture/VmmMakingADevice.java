package dev.nimbus.vmm.layeringfixture;

import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.serial.Serial16550;

import java.io.OutputStream;

/** Breaks the device-manager rule on purpose: a VMM class outside the device manager that makes a UART itself. */
public final class VmmMakingADevice {
    public Serial16550 uart() {
        return new Serial16550(IrqLine.NONE, OutputStream.nullOutputStream());
    }
}
