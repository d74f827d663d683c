package dev.nimbus.vmm.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigParsingTest {
    @Test
    void cpusBootAndMax() throws Exception {
        assertThat(CpusConfig.parse("boot=2")).isEqualTo(new CpusConfig(2, 2));
        assertThat(CpusConfig.parse("boot=4,max=4")).isEqualTo(new CpusConfig(4, 4));
    }

    @Test
    void memorySizeSuffixesArePowersOf1024() throws Exception {
        assertThat(MemoryConfig.parse("size=512M").size()).isEqualTo(512L << 20);
        assertThat(MemoryConfig.parse("size=2G").size()).isEqualTo(2L << 30);
        assertThat(MemoryConfig.parse("size=65536K").size()).isEqualTo(64L << 20);
        assertThat(MemoryConfig.parse("size=1g").size()).isEqualTo(1L << 30);
        assertThat(MemoryConfig.parse("size=" + (64L << 20)).size()).isEqualTo(64L << 20);
    }

    @Test
    void consoleModes() throws Exception {
        assertThat(ConsoleConfig.parse("--serial", "tty").mode()).isEqualTo(ConsoleConfig.Mode.TTY);
        assertThat(ConsoleConfig.parse("--serial", "off").mode()).isEqualTo(ConsoleConfig.Mode.OFF);
        assertThat(ConsoleConfig.parse("--console", "null").mode()).isEqualTo(ConsoleConfig.Mode.NULL);
        ConsoleConfig f = ConsoleConfig.parse("--serial", "file=/tmp/serial.log");
        assertThat(f.mode()).isEqualTo(ConsoleConfig.Mode.FILE);
        assertThat(f.file()).contains(Path.of("/tmp/serial.log"));
    }

    @Test
    void quotedValuesKeepTheirCommas() throws Exception {
        OptionList o = OptionList.parse("--x", "a=\"1,2\",b=[3,[4,5]]", Set.of("a", "b"), Set.of(), Set.of());
        assertThat(o.string("a")).contains("1,2");
        assertThat(o.string("b")).contains("[3,[4,5]]");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "--cpus|boot=0|--cpus boot: 0 is out of range (1 to 255)",
        "--cpus|boot=256|--cpus boot: 256 is out of range (1 to 255)",
        "--cpus|boot=two|--cpus boot: expected a whole number, got 'two'",
        "--cpus|boot=-1|--cpus boot: -1 is out of range (1 to 255)",
        "--cpus|bot=2|--cpus: unknown key 'bot' (expected boot=, max=)",
        "--cpus|2|--cpus: '2' is not key=value (expected boot=, max=)",
        "--cpus|boot=2,boot=3|--cpus: key 'boot' given twice",
        "--cpus|boot=4,max=2|--cpus max: 2 is less than boot=4",
        "--cpus|boot=2,max=4|--cpus max: CPU hot-plug (max greater than boot) is not supported yet",
        "--cpus|boot=2,topology=1:2:1:1|--cpus topology: not supported yet",
        "--cpus|boot=2,,max=2|--cpus: empty item in 'boot=2,,max=2'",
        "--cpus|boot=2,|--cpus: empty item in 'boot=2,'",
        "--cpus|boot=|--cpus boot: expected a whole number, got ''",
        "--memory|size=0|--memory size: 0 bytes is too small (at least 32M)",
        "--memory|size=1M|--memory size: 1048576 bytes is too small (at least 32M)",
        "--memory|size=lots|--memory size: expected a size such as 512M or 2G, got 'lots'",
        "--memory|size=12X|--memory size: expected a size such as 512M or 2G, got '12X'",
        "--memory|size=M|--memory size: expected a size such as 512M or 2G, got 'M'",
        "--memory|size=-512M|--memory size: size '-512M' is out of range",
        "--memory|size=99999999999999G|--memory size: size '99999999999999G' is out of range",
        "--memory|size=33554433|--memory size: 33554433 bytes is not a multiple of 4K",
        "--memory|shared=on|--memory shared: not supported yet",
        "--memory|hugepages=on,size=1G|--memory hugepages: not supported yet",
        "--memory|sise=1G|--memory: unknown key 'sise' (expected size=)",
        "--memory|mergeable=on|--memory mergeable: not supported yet",
        "--memory|prefault=on|--memory prefault: not supported yet",
        "--memory|1G|--memory: '1G' is not key=value (expected size=)",
        "--memory|size=1G\"|--memory: unterminated quote in 'size=1G\"'",
        "--memory|size=[1G|--memory: unbalanced '[' in 'size=[1G'",
        "--memory|size=1G]|--memory: unbalanced ']' in 'size=1G]'",
    })
    void malformedValuesNameOptionKeyAndExpectation(String option, String text, String message) {
        assertThatThrownBy(() -> {
            if (option.equals("--cpus")) {
                CpusConfig.parse(text);
            } else {
                MemoryConfig.parse(text);
            }
        }).isInstanceOf(ConfigException.class).hasMessage(message);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "--serial|pty|--serial pty: not supported yet",
        "--serial|socket=/tmp/s|--serial socket: not supported yet",
        "--serial|tty,file=/x|--serial: 'tty' cannot be combined with key=value pairs",
        "--serial|file=/x,tty|--serial: 'tty' is not key=value (expected null, off, pty, tty, file=)",
        "--serial|screen|--serial: 'screen' is not key=value (expected null, off, pty, tty, file=)",
        "--console|file=|--console file: empty value",
        "--console|path=/x|--console: unknown key 'path' (expected null, off, pty, tty, file=)",
    })
    void malformedConsoleValues(String option, String text, String message) {
        assertThatThrownBy(() -> ConsoleConfig.parse(option, text)).isInstanceOf(ConfigException.class).hasMessage(message);
    }

    @Test
    void emptyOptionValueIsRejected() {
        assertThatThrownBy(() -> CpusConfig.parse(" ")).hasMessage("--cpus: empty value (expected boot=, max=)");
    }

    @Test
    void missingKernelFileIsNamed(@TempDir Path dir) {
        assertThatThrownBy(() -> PayloadConfig.of(dir.resolve("vmlinuz").toString(), null, null))
                .isInstanceOf(ConfigException.class)
                .hasMessage("--kernel: " + dir.resolve("vmlinuz") + ": no such file");
    }

    @Test
    void kernelThatIsADirectoryIsRejected(@TempDir Path dir) {
        assertThatThrownBy(() -> PayloadConfig.of(dir.toString(), null, null))
                .hasMessage("--kernel: " + dir + ": not a regular file");
    }

    @Test
    void missingInitramfsIsNamed(@TempDir Path dir) throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        assertThatThrownBy(() -> PayloadConfig.of(k.toString(), dir.resolve("initrd").toString(), "console=ttyS0"))
                .hasMessage("--initramfs: " + dir.resolve("initrd") + ": no such file");
    }

    @Test
    void payloadKeepsTheCommandLine(@TempDir Path dir) throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        PayloadConfig p = PayloadConfig.of(k.toString(), null, "console=ttyS0 quiet");
        assertThat(p.cmdline()).isEqualTo("console=ttyS0 quiet");
        assertThat(p.initramfs()).isEmpty();
    }
}
