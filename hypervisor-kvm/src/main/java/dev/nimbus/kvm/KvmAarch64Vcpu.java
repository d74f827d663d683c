package dev.nimbus.kvm;

import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmVcpuFd;
import dev.nimbus.kvm.fd.KvmVmFd;

/** An AArch64 KVM vCPU: {@code KVM_ARM_VCPU_INIT} as the host's preferred target, then one-reg access. */
public final class KvmAarch64Vcpu extends KvmVcpu implements Aarch64Vcpu {
    private final KvmVmFd vm;
    private boolean initialized;

    KvmAarch64Vcpu(KvmVcpuFd fd, KvmVmFd vm) {
        super(fd);
        this.vm = vm;
    }

    @Override
    public void init(boolean poweredOff) {
        if (initialized) {
            throw new IllegalStateException("vCPU " + id() + " is initialized already");
        }
        int[] preferred = vm.armPreferredTarget();
        int[] features = new int[7];
        System.arraycopy(preferred, 1, features, 0, 7);
        features[0] |= 1 << KvmConstants.KVM_ARM_VCPU_PSCI_0_2;
        if (poweredOff) {
            features[0] |= 1 << KvmConstants.KVM_ARM_VCPU_POWER_OFF;
        }
        fd.armVcpuInit(preferred[0], features);
        initialized = true;
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
