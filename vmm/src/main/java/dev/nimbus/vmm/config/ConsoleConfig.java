package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code --serial} and {@code --console} ({@code serial}, {@code console} in VmConfig JSON): where a guest
 * console goes. {@code off} removes the device, {@code null} keeps it and drops its output, {@code tty}
 * connects it to Nimbus's terminal, {@code file=PATH} writes its output to a file, {@code pty} puts it on a
 * new pseudo-terminal (whose path vm.info reports as the file), {@code socket=PATH} serves it on a Unix socket.
 */
public record ConsoleConfig(Mode mode, Optional<Path> file, Optional<Path> socket) {
    /** The console modes. */
    public enum Mode { OFF, NULL, TTY, FILE, PTY, SOCKET }

    /** A console without a socket. */
    public ConsoleConfig(Mode mode, Optional<Path> file) {
        this(mode, file, Optional.empty());
    }

    /** One {@code --serial} or {@code --console} value ({@code option} says which). */
    public static ConsoleConfig parse(String option, String text) throws ConfigException {
        return from(Values.fromCommandLine(option.equals("--serial") ? Schema.SERIAL : Schema.CONSOLE, text));
    }

    /** The section's values from either front end: a mode word, or a file (with mode File in JSON). */
    public static ConsoleConfig from(Values v) throws ConfigException {
        boolean serial = v.section() == Schema.SERIAL;
        Field<Mode> modeField = serial ? Schema.SERIAL_MODE : Schema.CONSOLE_MODE;
        Field<Path> fileField = serial ? Schema.SERIAL_FILE : Schema.CONSOLE_FILE;
        Field<Path> socketField = serial ? Schema.SERIAL_SOCKET : Schema.CONSOLE_SOCKET;
        Optional<Path> file = v.find(fileField);
        Optional<Path> socket = v.find(socketField);
        if (file.isPresent() && socket.isPresent()) {
            throw v.wrong(socketField, "cannot be combined with a file");
        }
        // the command line says file=PATH or socket=PATH alone; JSON says mode File or Socket as well
        Mode mode = v.find(modeField).orElse(v.isJson() ? null : file.isPresent() ? Mode.FILE : socket.isPresent() ? Mode.SOCKET : null);
        if (mode == null) {
            throw v.wrong(modeField, v.isJson() ? "required (Off, Null, Tty or File)" : "expected off, null, tty or file=PATH");
        }
        if (mode == Mode.FILE && file.isEmpty()) {
            throw v.wrong(fileField, "required with mode File");
        }
        if (mode == Mode.SOCKET) {
            if (socket.isEmpty()) {
                throw v.wrong(socketField, "required with mode Socket");
            }
            return new ConsoleConfig(mode, Optional.empty(), socket);
        }
        if (socket.isPresent()) {
            throw v.wrong(socketField, "only with mode Socket");
        }
        if (mode == Mode.PTY) {
            // vm.info reports a pty's path as its file; a config read back from it makes a new pty
            return new ConsoleConfig(mode, Optional.empty());
        }
        if (mode != Mode.FILE && file.isPresent()) {
            throw v.wrong(fileField, "only with mode File");
        }
        return new ConsoleConfig(mode, file);
    }

    public static ConsoleConfig of(Mode mode) {
        return new ConsoleConfig(mode, Optional.empty());
    }
}
