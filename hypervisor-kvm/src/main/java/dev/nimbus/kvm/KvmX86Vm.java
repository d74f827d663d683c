package dev.nimbus.kvm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.x86.X86Vm;
import dev.nimbus.kvm.fd.KvmSystemFd;
import dev.nimbus.kvm.fd.KvmVmFd;

/** An x86-64 KVM VM: adds the kvmclock ({@code KVM_GET_CLOCK}/{@code KVM_SET_CLOCK}). */
public final class KvmX86Vm extends KvmVm implements X86Vm {
    KvmX86Vm(KvmSystemFd system, KvmVmFd vm, int maxVcpus) {
        super(Arch.X86_64, system, vm, maxVcpus);
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
