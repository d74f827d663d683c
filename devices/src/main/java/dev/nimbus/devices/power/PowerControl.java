package dev.nimbus.devices.power;

/**
 * What the VMM does when the guest asks for a power transition through a device (the ACPI sleep and reset
 * registers, the i8042 reset line). Called on the vCPU thread that made the access; an implementation
 * records the request and stops the vCPUs, it must not block waiting for them (it runs on one of them).
 */
public interface PowerControl {
    /** The guest asked to be switched off (ACPI S5). */
    void requestPowerOff();

    /** The guest asked for a reset (reboot). */
    void requestReset();

    /** Ignores every request, for machines built only to be looked at. */
    PowerControl IGNORE = new PowerControl() {
        @Override
        public void requestPowerOff() {}

        @Override
        public void requestReset() {}
    };
}
