package dev.nimbus.kvm;

import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmVcpuFd;
import dev.nimbus.kvm.fd.KvmVmFd;

import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_FEATURE_WORDS;

/** An AArch64 KVM vCPU: {@code KVM_ARM_VCPU_INIT} as the host's preferred target, then one-reg access. */
public final class KvmAarch64Vcpu extends KvmOneRegVcpu implements Aarch64Vcpu {
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
        int[] features = new int[VCPU_INIT_FEATURE_WORDS];
        System.arraycopy(preferred, 1, features, 0, VCPU_INIT_FEATURE_WORDS);
        features[0] |= 1 << KvmConstants.KVM_ARM_VCPU_PSCI_0_2;
        if (poweredOff) {
            features[0] |= 1 << KvmConstants.KVM_ARM_VCPU_POWER_OFF;
        }
        fd.armVcpuInit(preferred[0], features);
        initialized = true;
    }
}
