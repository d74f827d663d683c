package dev.nimbus.devices.console;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs {@link HostTerminalProbe} in a child JVM on a real pseudo-terminal made by util-linux's
 * {@code script} (package bsdutils, which Debian always installs).
 */
class HostTerminalTest {
    static List<String> runProbe() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        String command = java + " -cp " + System.getProperty("java.class.path") + " " + HostTerminalProbe.class.getName();
        Process p = new ProcessBuilder("script", "-qec", command, "/dev/null")
                .redirectInput(ProcessBuilder.Redirect.PIPE)
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().map(l -> l.replace("\r", "")).toList();
    }

    static String line(List<String> lines, String prefix) {
        return lines.stream().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no '" + prefix + "' line in " + lines));
    }

    static boolean flag(String sttyReport, String flag) {
        Matcher m = Pattern.compile("(^|\\s)(-?)" + Pattern.quote(flag) + "(\\s|$)").matcher(sttyReport);
        assertThat(m.find()).as("flag " + flag + " in " + sttyReport).isTrue();
        return m.group(2).isEmpty();
    }

    @Test
    void rawModeTurnsOffEchoAndLineEditingAndCloseRestoresThem() throws Exception {
        List<String> lines = runProbe();
        String before = line(lines, "before: ");
        String raw = line(lines, "raw: ");
        String after = line(lines, "after: ");

        assertThat(line(lines, "terminal: ")).isEqualTo("terminal: true");
        assertThat(flag(before, "echo")).isTrue();
        assertThat(flag(before, "icanon")).isTrue();
        assertThat(flag(before, "isig")).isTrue();
        assertThat(flag(raw, "echo")).isFalse();
        assertThat(flag(raw, "icanon")).isFalse();
        assertThat(flag(raw, "isig")).isFalse();
        assertThat(after.substring("after: ".length())).isEqualTo(before.substring("before: ".length()));
    }

    @Test
    void standardInputThatIsNotATerminalIsLeftAlone() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), HostTerminalProbe.class.getName())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(out).contains("terminal: false");
    }
}
