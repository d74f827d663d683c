package dev.nimbus.kvm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.x86.X86Vm;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmSystemFd;
import dev.nimbus.kvm.fd.KvmVcpuFd;
import dev.nimbus.kvm.fd.KvmVmFd;

/**
 * An x86-64 KVM VM: adds the kvmclock ({@code KVM_GET_CLOCK}/{@code KVM_SET_CLOCK}), and gives its vCPUs what
 * saving them needs: the MSRs KVM saves ({@code KVM_GET_MSR_INDEX_LIST}, read once per backend) and the XSAVE area's
 * size ({@code KVM_CAP_XSAVE2}, asked when each vCPU is made, on the thread that builds the machine).
 */
public final class KvmX86Vm extends KvmVm implements X86Vm {
    private final int[] msrsToSave;

    KvmX86Vm(KvmSystemFd system, KvmVmFd vm, int maxVcpus, int[] msrsToSave) {
        super(Arch.X86_64, system, vm, maxVcpus);
        this.msrsToSave = msrsToSave.clone();
    }

    @Override
    KvmVcpu newVcpu(KvmVcpuFd fd) {
        int xsaveSize = vm.checkExtension(KvmConstants.KVM_CAP_XSAVE2);  // 0 where the capability is absent
        boolean tscKhzKnown = vm.checkExtension(KvmConstants.KVM_CAP_GET_TSC_KHZ) > 0;
        return new KvmX86Vcpu(fd, this::supportedCpuid, msrsToSave, xsaveSize, tscKhzKnown);
    }

    @Override
    public long getClock() {
        return vm.getClock();
    }

    @Override
    public void setClock(long nanos) {
        vm.setClock(nanos);
    }
}
