package dev.nimbus.hypervisor;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ArchTest {
    @Test
    void osArchNamesMapToArchitectures() {
        assertThat(Arch.fromOsArch("amd64")).isEqualTo(Arch.X86_64);
        assertThat(Arch.fromOsArch("x86_64")).isEqualTo(Arch.X86_64);
        assertThat(Arch.fromOsArch("aarch64")).isEqualTo(Arch.AARCH64);
        assertThat(Arch.fromOsArch("riscv64")).isEqualTo(Arch.RISCV64);
    }

    @Test
    void unsupportedHostIsNamed() {
        assertThatThrownBy(() -> Arch.fromOsArch("s390x")).hasMessage("unsupported host architecture: s390x");
    }
}
