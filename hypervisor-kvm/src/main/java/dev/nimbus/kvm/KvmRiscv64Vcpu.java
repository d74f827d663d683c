package dev.nimbus.kvm;

import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;
import dev.nimbus.kvm.fd.KvmVcpuFd;

/** A riscv64 KVM vCPU (hart): one-reg access to core registers, CSRs, the timer and the ISA config. */
public final class KvmRiscv64Vcpu extends KvmVcpu implements Riscv64Vcpu {
    KvmRiscv64Vcpu(KvmVcpuFd fd) {
        super(fd);
    }

    @Override
    public long getOneReg(long id) {
        return fd.getOneReg(id);
    }

    @Override
    public void setOneReg(long id, long value) {
        fd.setOneReg(id, value);
    }

    @Override
    public void getOneReg(long id, byte[] value) {
        fd.getOneReg(id, value);
    }

    @Override
    public void setOneReg(long id, byte[] value) {
        fd.setOneReg(id, value);
    }

    @Override
    public long[] registerList() {
        return fd.getRegList();
    }
}
