package dev.nimbus.arch.riscv64.hart;

import dev.nimbus.arch.riscv64.FakeRiscv64Vcpu;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A hart's features come from its vCPU's one-reg registers, not from a fixed string. */
class HartFeaturesTest {
    @Test
    void theIsaIsWhatTheVcpuReportsWithoutTheHypervisorExtension() {
        HartFeatures f = HartFeatures.read(new FakeRiscv64Vcpu(0));
        assertThat(f.letters()).isEqualTo("imafdc");
        assertThat(f.extensions()).containsExactly("sstc", "zicbom", "zicsr", "zifencei");
        assertThat(f.isaString()).isEqualTo("rv64imafdc_sstc_zicbom_zicsr_zifencei");
        assertThat(f.isaBase()).isEqualTo("rv64i");
        assertThat(f.isaExtensions()).containsExactly("i", "m", "a", "f", "d", "c", "sstc", "zicbom", "zicsr", "zifencei");
    }

    @Test
    void anotherHostsHartGivesAnotherIsa() {
        FakeRiscv64Vcpu vcpu = new FakeRiscv64Vcpu(0);
        vcpu.regs.put(Registers.CONFIG_ISA, FakeRiscv64Vcpu.bits("imacv"));
        vcpu.regs.put(Registers.isaExtension(11), 0L);  // zicbom there but off
        vcpu.regs.put(Registers.isaExtension(14), 1L);  // ssaia
        vcpu.regs.put(Registers.isaExtension(9999), 1L); // an extension newer than Nimbus: left out
        HartFeatures f = HartFeatures.read(vcpu);
        assertThat(f.isaString()).isEqualTo("rv64imacv_sstc_ssaia_zicsr_zifencei");
        assertThat(f.cbomBlockSize()).as("no Zicbom, no block size").isEmpty();
    }

    @Test
    void theTimebaseAndPagingModeComeFromTheTimerAndConfigRegisters() {
        FakeRiscv64Vcpu vcpu = new FakeRiscv64Vcpu(0);
        vcpu.regs.put(Registers.TIMER_FREQUENCY, 24_000_000L);
        vcpu.regs.put(Registers.CONFIG_SATP_MODE, 10L);
        HartFeatures f = HartFeatures.read(vcpu);
        assertThat(f.timebaseFrequency()).isEqualTo(24_000_000L);
        assertThat(f.mmuType()).isEqualTo("riscv,sv57");
        assertThat(f.cbomBlockSize()).isEqualTo(OptionalInt.of(64));
    }

    @Test
    void aKernelWithoutSatpModeGetsSv39() {
        FakeRiscv64Vcpu vcpu = new FakeRiscv64Vcpu(0);
        vcpu.regs.remove(Registers.CONFIG_SATP_MODE); // before Linux 6.4 the register does not exist
        assertThat(HartFeatures.read(vcpu).mmuType()).isEqualTo("riscv,sv39");
    }

    @Test
    void aKernelWithoutARegisterListIsAskedRegisterByRegister() {
        FakeRiscv64Vcpu vcpu = new FakeRiscv64Vcpu(0);
        vcpu.noRegisterList = true;
        HartFeatures f = HartFeatures.read(vcpu);
        assertThat(f.extensions()).containsExactly("sstc", "zicbom", "zicsr", "zifencei");
        assertThat(f.mmuType()).isEqualTo("riscv,sv48");
    }

    @Test
    void aHartWithoutTheBaseIntegerIsaIsRefused() {
        assertThatThrownBy(() -> new HartFeatures("mafdc", List.of(), "riscv,sv39", 10_000_000, OptionalInt.empty(), OptionalInt.empty()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("base integer ISA");
    }
}
