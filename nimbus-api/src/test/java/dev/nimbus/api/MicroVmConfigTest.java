package dev.nimbus.api;

import dev.nimbus.vmm.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the builder refuses, with the command line's own messages: each case is run through {@code nimbus}'s
 * {@code Main} as well, and the two must say the same. Nothing here needs a hypervisor.
 */
class MicroVmConfigTest {
    @TempDir
    Path dir;

    /** What {@code nimbus ARGS} prints on standard error, less its {@code nimbus: } prefix and line end. */
    private static String cli(String... args) {
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertThat(code).as("nimbus exit code").isEqualTo(2);
        assertThat(err.toString()).startsWith("nimbus: ");
        return err.toString().substring("nimbus: ".length()).strip();
    }

    @Test
    void aMissingKernelIsRefusedAsTheCommandLineRefusesIt() {
        Path missing = dir.resolve("no-such-vmlinux");
        assertThatThrownBy(() -> MicroVm.builder().kernel(missing).build())
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo(cli("--kernel", missing.toString())).contains("--kernel");
                    assertThat(e.exitCode()).isEqualTo(2);
                });
    }

    @Test
    void noKernelAtAllNamesTheField() {
        assertThatThrownBy(() -> MicroVm.builder().build()).isInstanceOf(InvalidConfigException.class)
                .hasMessage(cli("--cpus", "boot=1"));
    }

    @Test
    void aBadVcpuCountOrDiskOptionNamesItsField() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "not really a kernel");
        assertThatThrownBy(() -> MicroVm.builder().kernel(kernel).cpus(0).build())
                .hasMessage(cli("--kernel", kernel.toString(), "--cpus", "boot=0")).hasMessageContaining("--cpus boot");
        assertThatThrownBy(() -> MicroVm.builder().kernel(kernel).disk("path=" + kernel + ",readonly=maybe").build())
                .hasMessage(cli("--kernel", kernel.toString(), "--disk", "path=" + kernel + ",readonly=maybe"))
                .hasMessageContaining("readonly");
        assertThatThrownBy(() -> MicroVm.builder().kernel(kernel).option("--memory", "size=12Q").build())
                .hasMessage(cli("--kernel", kernel.toString(), "--memory", "size=12Q"));
    }

    @Test
    void anUnknownHypervisorIsRefusedByName() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "x");
        assertThatThrownBy(() -> MicroVm.builder().kernel(kernel).hypervisor("xen").build())
                .isInstanceOf(InvalidConfigException.class).hasMessage(cli("--hypervisor", "xen", "--kernel", kernel.toString()));
        assertThat(MicroVm.hypervisorStatus("xen").usable()).isFalse();
    }

    @Test
    void theConsolesAndProcessOptionsAreNotBuilderOptions() {
        assertThatThrownBy(() -> MicroVm.builder().option("--serial", "tty")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Java streams");
        assertThatThrownBy(() -> MicroVm.builder().option("--api-socket", "path=/x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--api-socket: not a VM option (it is about the nimbus process)");
        assertThatThrownBy(() -> MicroVm.builder().option("memory", "size=1G")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theSameSettingTwiceIsRefused() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "x");
        assertThatThrownBy(() -> MicroVm.builder().kernel(kernel).memoryMib(256).option("--memory", "size=1G").build())
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("--memory: given both");
        assertThatThrownBy(() -> MicroVm.builder().kernel(kernel).cpus(1).option("--cpus", "boot=3").build())
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("--cpus: given both");
    }

    @Test
    void aHypervisorThatIsNotHereIsUnusableWithTheReason() {
        // no machine of this project has /dev/mshv
        HypervisorStatus mshv = MicroVm.hypervisorStatus("mshv");
        assertThat(mshv.usable()).isFalse();
        assertThat(mshv.reason()).contains("/dev/mshv");
    }
}
