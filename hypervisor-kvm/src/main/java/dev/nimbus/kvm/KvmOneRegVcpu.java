package dev.nimbus.kvm;

import dev.nimbus.hypervisor.OneRegAccess;
import dev.nimbus.kvm.fd.KvmVcpuFd;

/**
 * A KVM vCPU programmed by register id ({@code KVM_GET_ONE_REG}/{@code KVM_SET_ONE_REG},
 * {@code KVM_GET_REG_LIST}): AArch64 and riscv64, whose one-reg access is the same ioctls on the vCPU fd.
 */
public abstract sealed class KvmOneRegVcpu extends KvmVcpu implements OneRegAccess
        permits KvmAarch64Vcpu, KvmRiscv64Vcpu {
    KvmOneRegVcpu(KvmVcpuFd fd) {
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
