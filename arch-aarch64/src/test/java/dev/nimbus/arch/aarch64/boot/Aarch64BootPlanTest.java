package dev.nimbus.arch.aarch64.boot;

import dev.nimbus.arch.aarch64.FakeAarch64Vcpu;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Aarch64BootPlanTest {
    private final Aarch64BootPlan plan = new Aarch64BootPlan(0x4000_0000L, 0x5fe0_0000L);

    @Test
    void theBootVcpuStartsAtTheImageInEl1hWithTheDeviceTreeInX0() {
        FakeAarch64Vcpu cpu = new FakeAarch64Vcpu(0);
        cpu.regs.put(Registers.x(1), 0xdeadL); // whatever was there before: booting.rst wants 0

        plan.setupVcpu(cpu, 0);

        assertThat(cpu.calls.getFirst()).isEqualTo("init(false)");
        assertThat(cpu.regs.get(Registers.PC)).isEqualTo(0x4000_0000L);
        assertThat(cpu.regs.get(Registers.PSTATE)).isEqualTo(0x3c5L);
        assertThat(cpu.regs.get(Registers.x(0))).isEqualTo(0x5fe0_0000L);
        assertThat(cpu.regs.get(Registers.x(1))).isZero();
        assertThat(cpu.regs.get(Registers.x(2))).isZero();
        assertThat(cpu.regs.get(Registers.x(3))).isZero();
    }

    @Test
    void secondaryVcpusStartPoweredOffWithNothingElseSet() {
        FakeAarch64Vcpu cpu = new FakeAarch64Vcpu(1);

        plan.setupVcpu(cpu, 1);

        assertThat(cpu.calls).containsExactly("init(true)");
    }

    @Test
    void aVcpuWhoseMpidrDiffersFromTheDeviceTreeIsAnError() {
        FakeAarch64Vcpu cpu = new FakeAarch64Vcpu(1);
        cpu.regs.put(Registers.MPIDR_EL1, 0x8000_0100L);

        assertThatThrownBy(() -> plan.setupVcpu(cpu, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("MPIDR_EL1 affinity 0x100");
    }

    @Test
    void theProtocolIsArm64Image() {
        assertThat(plan.protocol()).isEqualTo("arm64-image");
        assertThat(plan.entryPoint()).isEqualTo(0x4000_0000L);
    }
}
