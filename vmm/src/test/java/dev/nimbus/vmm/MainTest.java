package dev.nimbus.vmm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.vmm.wiring.HypervisorChoice;
import dev.nimbus.vmm.wiring.NimbusComponent;
import org.junit.jupiter.api.Test;

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
    void missingKernelIsAUsageErrorOnceABackendIsChosen() {
        assumeFalse(Files.exists(Path.of("/dev/kvm")) || Files.exists(Path.of("/dev/mshv")), "this host has a hypervisor");
        // without any hypervisor the backend choice fails first, with exit code 1 and the reasons
        assertThat(run()).isEqualTo(Main.EXIT_VM_ERROR);
        assertThat(err.toString()).contains("no usable hypervisor:", "kvm: /dev/kvm does not exist");
    }
}
