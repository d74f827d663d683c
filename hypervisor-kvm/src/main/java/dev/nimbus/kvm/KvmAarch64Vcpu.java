package dev.nimbus.kvm;

import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmVcpuFd;
import dev.nimbus.kvm.fd.KvmVmFd;

import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_FEATURE_WORDS;

/**
 * An AArch64 KVM vCPU: {@code KVM_ARM_VCPU_INIT} as the host's preferred target, then one-reg access.
 *
 * <p>Snapshot records {@code kvm-arm64-mp-state} and {@code kvm-arm64-regs} ({@link KvmOneRegVcpu}): core
 * registers (x0-x30, SP, PC, PSTATE, SP_EL1, ELR_EL1, the SPSRs, V0-V31 as 128-bit, FPSR, FPCR), the
 * firmware pseudo-registers (PSCI version, SMCCC workaround levels, hypercall bitmaps), the timers and every
 * system register KVM lists. Restore initializes the vCPU first where nobody has (as a boot CPU: the saved MP
 * state replaces that). The two counters go last: writing {@code KVM_REG_ARM_TIMER_CNT}
 * (and {@code KVM_REG_ARM_PTIMER_CNT}) sets the VM's counter offset so the guest's counter continues from the
 * saved value, where CTL and CVAL are plain values; QEMU writes both counters only on a full restore, as
 * this does, and Cloud Hypervisor writes the whole list in KVM's order.
 */
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

    @Override
    String recordPrefix() {
        return "kvm-arm64";
    }

    @Override
    boolean restoreLast(long id) {
        return id == KvmConstants.KVM_REG_ARM_TIMER_CNT || id == KvmConstants.KVM_REG_ARM_PTIMER_CNT;
    }

    /**
     * A vCPU a restore made is initialized here, as a boot CPU, when the VMM has not done it (a restore has
     * no boot plan to do it): {@code KVM_GET_REG_LIST} and the one-reg writes need it, and the saved MP state
     * then says whether it runs or waits for {@code CPU_ON}.
     */
    @Override
    void prepareRestore() {
        if (!initialized) {
            init(false);
        }
    }
}
