package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.hypervisor.arch.PlatformDevice;

import java.io.ByteArrayOutputStream;
import java.util.List;

/**
 * A few bytes of real-mode code at the x86 reset vector (0xF000:0xFFF0, physical 0xFFFF0), where a PC's
 * firmware would be. Nimbus boots kernels directly and has no firmware, but Linux still jumps here on its
 * last-resort reboot path: on a hardware-reduced ACPI machine Linux 6.x prefers an EFI reboot
 * ({@code efi_reboot_required()}), and without EFI it falls through to {@code machine_real_restart()}, which
 * enters real mode and jumps to the reset vector. The stub makes that jump a reset: it writes the ACPI reset
 * value to the reset register, then pulses the i8042 reset line, then halts.
 */
public final class ResetVector {
    /** Physical address of the reset vector. */
    public static final long ADDRESS = 0xffff0;
    /** The reset vector has 16 bytes before the end of the first megabyte. */
    static final int MAX_SIZE = 16;

    private ResetVector() {}

    /** The stub for the reset devices among {@code devices}. */
    public static byte[] code(List<PlatformDevice> devices) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (PlatformDevice d : devices) {
            if (d instanceof PlatformDevice.AcpiPowerControl acpi) {
                int port = (int) acpi.base() + PlatformDevice.AcpiPowerControl.RESET_OFFSET;
                b.write(0xb0);                                         // mov al, RESET_VALUE
                b.write(PlatformDevice.AcpiPowerControl.RESET_VALUE);
                b.write(0xba);                                         // mov dx, port
                b.write(port & 0xff);
                b.write(port >>> 8);
                b.write(0xee);                                         // out dx, al
            }
        }
        for (PlatformDevice d : devices) {
            if (d instanceof PlatformDevice.I8042 kbc && kbc.base() + PlatformDevice.I8042.COMMAND_OFFSET <= 0xff) {
                b.write(0xb0);                                         // mov al, 0xFE (pulse reset)
                b.write(PlatformDevice.I8042.RESET_COMMAND);
                b.write(0xe6);                                         // out imm8, al
                b.write((int) kbc.base() + PlatformDevice.I8042.COMMAND_OFFSET);
            }
        }
        b.write(0xf4);                                                 // hlt
        b.write(0xeb);                                                 // jmp back to hlt
        b.write(0xfd);
        byte[] code = b.toByteArray();
        if (code.length > MAX_SIZE) {
            throw new IllegalStateException("reset vector stub is " + code.length + " bytes, more than " + MAX_SIZE);
        }
        return code;
    }
}
