package dev.nimbus.vmm;

import dev.nimbus.host.LibC;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.vmm.wiring.HypervisorChoice;
import dev.nimbus.vmm.wiring.NimbusComponent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

class MainTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void versionOptionPrintsTheStampedVersion() {
        assertThat(run("--version")).isZero();
        assertThat(out.toString().strip()).matches("nimbus \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?");
    }

    @Test
    void unknownHypervisorNameIsAUsageError() {
        assertThat(run("--hypervisor", "xen", "--kernel", "k")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("--hypervisor: expected auto, kvm or mshv, got 'xen'");
    }

    @Test
    void seccompTakesTrueFalseOrLogAndNamesTheOptionOtherwise() {
        assertThat(run("--seccomp", "yes", "--kernel", "k")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --seccomp: 'yes' is not one of true, false, log\n");
        assertThat(run("--help")).isZero();
        assertThat(out.toString()).contains("--seccomp=true|false|log").contains("(default: true)");
    }

    @Test
    void componentBindsTheHostArchitecturePlatform() {
        NimbusComponent c = NimbusComponent.create(HypervisorChoice.auto());
        assertThat(c.archPlatform().arch()).isEqualTo(Arch.host());
        assertThat(c.hypervisors().all()).extracting(h -> h.name()).contains("kvm", "mshv");
    }

    @Test
    void componentRefusesMshvWithoutDevMshv() {
        assumeFalse(Files.exists(Path.of("/dev/mshv")), "this host has /dev/mshv");
        NimbusComponent c = NimbusComponent.create(new HypervisorChoice("mshv"));
        assertThatThrownBy(c::hypervisor).isInstanceOf(HypervisorException.class).hasMessageContaining("/dev/mshv does not exist");
    }

    @Test
    void missingKernelIsAUsageErrorOnAnyHost() {
        assertThat(run("--cpus", "boot=2")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --kernel: required\n");
    }

    @Test
    void badMemorySizeIsAUsageErrorOnAnyHost(@TempDir Path dir) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "not really");
        assertThat(run("--kernel", kernel.toString(), "--memory", "size=0")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --memory size: 0 bytes is too small (at least 32M)\n");
    }

    @Test
    void memoryTheHostCannotBackAndAOneEntryQueueAreUsageErrorsNotVmErrors(@TempDir Path dir) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "not really");
        assertThat(run("--kernel", kernel.toString(), "--memory", "size=200000G")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).startsWith("nimbus: --memory size: 214748364800000 bytes is more than this host's RAM and swap together (");
        err.getBuffer().setLength(0);
        Path disk = Files.write(dir.resolve("d.raw"), new byte[4096]);
        assertThat(run("--kernel", kernel.toString(), "--disk", "path=" + disk + ",queue_size=1")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --disk queue_size: 1 is out of range (2 to 32768)\n");
    }

    @Test
    void withoutAHypervisorGoodInputEndsWithTheReasons(@TempDir Path dir) throws Exception {
        assumeFalse(Files.exists(Path.of("/dev/kvm")) || Files.exists(Path.of("/dev/mshv")), "this host has a hypervisor");
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "not really");
        assertThat(run("--kernel", kernel.toString(), "--console", "off")).isEqualTo(Main.EXIT_VM_ERROR);
        assertThat(err.toString()).contains("no usable hypervisor:", "kvm: /dev/kvm does not exist");
    }

    @Test
    void helpListsEveryOptionWithItsSyntax() {
        assertThat(run("--help")).isZero();
        assertThat(out.toString()).contains("--cpus=[boot=N][,max=N]", "--memory=[size=SIZE]",
                "--disk=path=PATH[,readonly=on|off]",
                "--net=[tap=NAME][,ip=IP]",
                "--rng=[src=PATH]", "--serial=null|off|pty|tty|[file=PATH]", "--console=null|off|pty|tty|[file=PATH]", "--kernel=PATH",
                "--initramfs=PATH", "--cmdline=STRING", "--api-socket=[path=PATH][,fd=N]", "--landlock", "--landlock-rules=path=PATH,access=r|rw|w", "--log-file=PATH", "-v",
                "--version", "--hypervisor");
        // what Nimbus does not build yet is refused by name, not offered
        assertThat(out.toString()).doesNotContain("--firmware", "--balloon", "host_mac", "vhost_user");
    }

    @Test
    void malformedDiskIsAUsageErrorNamingTheKey(@TempDir Path dir) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "not really");
        assertThat(run("--kernel", kernel.toString(), "--disk", "path=a.raw", "path=b.raw,readonly=maybe")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --disk readonly: expected on or off, got 'maybe'\n");
    }

    @Test
    void apiSocketNeedsOneOfPathAndFd() {
        assertThat(run("--api-socket", "path=/tmp/a.sock,fd=3")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --api-socket: give path=PATH or fd=N, one of them\n");
        err.getBuffer().setLength(0);
        assertThat(run("--api-socket", "fd=-1")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).startsWith("nimbus: --api-socket fd: -1 is out of range");
    }

    @Test
    void apiSocketFdThatIsNotOpenIsAUsageErrorNamingIt() {
        assertThat(run("--api-socket", "fd=987")).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).isEqualTo("nimbus: --api-socket fd: 987 is not an open file descriptor\n");
    }

    @Test
    void apiSocketFdThatIsAFileIsAUsageErrorNamingIt(@TempDir Path dir) throws Exception {
        int fd = LibC.open(Files.writeString(dir.resolve("f"), "x").toString(), LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        try {
            assertThat(run("--api-socket", "fd=" + fd)).isEqualTo(Main.EXIT_USAGE);
            assertThat(err.toString()).isEqualTo("nimbus: --api-socket fd: " + fd + " is not a socket\n");
        } finally {
            LibC.close(fd);
        }
    }

    @Test
    void apiSocketFdThatIsNotListeningIsAUsageErrorNamingIt() {
        int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, "socket");
        try {
            assertThat(run("--api-socket", "fd=" + fd)).isEqualTo(Main.EXIT_USAGE);
            assertThat(err.toString()).isEqualTo("nimbus: --api-socket fd: " + fd
                    + " is not listening (bind and listen before handing it down)\n");
        } finally {
            LibC.close(fd);
        }
    }

    @Test
    void checkHypervisorSaysWhyABackendIsNotUsable() {
        assumeFalse(Files.exists(Path.of("/dev/mshv")), "this host has /dev/mshv");
        assertThat(run("--check-hypervisor", "--hypervisor", "mshv")).isEqualTo(Main.EXIT_VM_ERROR);
        assertThat(out.toString()).startsWith("nimbus: hypervisor 'mshv' is not usable: /dev/mshv does not exist");
    }

    @Test
    void checkHypervisorOnThisHostsKvmAnswersWithOneLineAndTheKindAsExitCode() {
        int code = run("--check-hypervisor", "--hypervisor", "kvm");
        String line = out.toString().strip();
        assertThat(line).doesNotContain("\n");
        switch (code) {
            case Main.EXIT_OK -> assertThat(line).startsWith("kvm: usable: /dev/kvm, API version 12; guest kernel code ran ");
            case Main.EXIT_KERNEL_EMULATED -> assertThat(line).startsWith("kvm: usable, but /dev/kvm emulates guest kernel code");
            case Main.EXIT_VM_ERROR -> assertThat(line).startsWith("nimbus: hypervisor 'kvm' is not usable: ");
            default -> throw new AssertionError("exit code " + code + ": " + line);
        }
    }
}
