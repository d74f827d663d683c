package dev.nimbus.vmm.console;

import dev.nimbus.devices.console.ConsoleInput;

import java.io.OutputStream;

/**
 * Where a guest console in mode {@code tty} meets the host. For the command line that is the process's own
 * terminal ({@link HostTerminal}: standard output, and standard input for one console at a time); for a VM
 * that a Java program embeds ({@code dev.nimbus.api.MicroVm}), it is that program's streams. The device
 * manager asks it once per machine, so a reboot's new machine finds the same host.
 */
public interface ConsoleHost {
    /** The two guest consoles a machine can have. */
    enum Which {
        /** The platform's UART ({@code --serial}). */
        SERIAL,
        /** The virtio console ({@code --console}). */
        VIRTIO
    }

    /**
     * Where {@code console}'s output goes for one machine; the machine closes the stream when it is released,
     * which must flush it and may leave what is behind it open.
     */
    OutputStream output(Which console);

    /** Sends the host's input for {@code console} to {@code target} until the returned handle is closed. */
    AutoCloseable attach(Which console, ConsoleInput target);
}
