package dev.nimbus.api;

import dev.nimbus.devices.console.ConsoleInput;
import dev.nimbus.vmm.console.ConsoleHost;

import java.io.OutputStream;

/** The consoles in mode tty of an embedded VM: its two {@link Console}s rather than the process's terminal. */
final class StreamConsoles implements ConsoleHost {
    private final Console serial = new Console("serial");
    private final Console virtio = new Console("virtio");

    Console serial() {
        return serial;
    }

    Console virtio() {
        return virtio;
    }

    private Console of(Which which) {
        return which == Which.SERIAL ? serial : virtio;
    }

    @Override
    public OutputStream output(Which which) {
        return of(which).guestOutput();
    }

    @Override
    public AutoCloseable attach(Which which, ConsoleInput target) {
        return of(which).attach(target);
    }

    void end() {
        serial.end();
        virtio.end();
    }
}
