package dev.nimbus.kvm;

import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;
import dev.nimbus.kvm.fd.KvmVcpuFd;

/** A riscv64 KVM vCPU (hart): one-reg access to core registers, CSRs, the timer and the ISA config. */
public final class KvmRiscv64Vcpu extends KvmOneRegVcpu implements Riscv64Vcpu {
    KvmRiscv64Vcpu(KvmVcpuFd fd) {
        super(fd);
    }
}
