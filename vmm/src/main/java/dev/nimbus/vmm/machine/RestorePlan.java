package dev.nimbus.vmm.machine;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.state.StateRecord;

import java.util.List;

/**
 * How the vCPUs of a restored machine start: not from a boot protocol but from their saved state, each put
 * back on its own thread before its first run ({@link Vcpu#restoreState}).
 */
final class RestorePlan implements BootPlan {
    private final List<List<StateRecord>> vcpus;

    RestorePlan(List<List<StateRecord>> vcpus) {
        this.vcpus = List.copyOf(vcpus);
    }

    @Override
    public String protocol() {
        return "snapshot";
    }

    @Override
    public long entryPoint() {
        return -1; // where the saved vCPU 0 was: its registers say
    }

    @Override
    public void setupVcpu(Vcpu vcpu, int index) {
        vcpu.restoreState(vcpus.get(index));
    }
}
