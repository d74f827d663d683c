package dev.nimbus.kvm;

import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;
import dev.nimbus.kvm.fd.KvmVcpuFd;

/**
 * A riscv64 KVM vCPU (hart): one-reg access to core registers, CSRs, the timer and the ISA config. Snapshot
 * records {@code kvm-riscv64-mp-state} and {@code kvm-riscv64-regs} ({@link KvmOneRegVcpu}), every register
 * in {@code KVM_GET_REG_LIST}'s order, which puts the timer's time (its offset) before compare and state.
 * The AIA's state is not saved ({@code AiaIrqChip} refuses).
 */
public final class KvmRiscv64Vcpu extends KvmOneRegVcpu implements Riscv64Vcpu {
    KvmRiscv64Vcpu(KvmVcpuFd fd) {
        super(fd);
    }

    @Override
    String recordPrefix() {
        return "kvm-riscv64";
    }
}
