package dev.nimbus.devices.console;

import java.io.IOException;
import java.util.Optional;

/**
 * Run by {@link HostTerminalTest} in a child JVM whose standard input is a pseudo-terminal: prints the
 * terminal's settings before, during and after raw mode, one {@code stty -a} report a line.
 */
public final class HostTerminalProbe {
    public static void main(String[] args) throws IOException, InterruptedException {
        System.out.println("before: " + settings());
        Optional<HostTerminal> terminal = HostTerminal.enterRawMode();
        System.out.println("terminal: " + terminal.isPresent());
        System.out.println("raw: " + settings());
        if (terminal.isPresent()) {
            terminal.get().close();
        }
        System.out.println("after: " + settings());
    }

    static String settings() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("stty", "-a").redirectInput(ProcessBuilder.Redirect.INHERIT).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes()).replace('\n', ' ').replace("\r", "");
        p.waitFor();
        return text;
    }
}
