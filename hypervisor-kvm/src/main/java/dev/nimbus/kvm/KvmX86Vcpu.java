package dev.nimbus.kvm;

import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.LapicState;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;
import dev.nimbus.kvm.fd.KvmVcpuFd;

import java.util.List;
import java.util.function.Supplier;

/** An x86-64 KVM vCPU. */
public final class KvmX86Vcpu extends KvmVcpu implements X86Vcpu {
    private final Supplier<List<CpuidEntry>> supportedCpuid;

    KvmX86Vcpu(KvmVcpuFd fd, Supplier<List<CpuidEntry>> supportedCpuid) {
        super(fd);
        this.supportedCpuid = supportedCpuid;
    }

    @Override
    public X86Regs getRegs() {
        return fd.getRegs();
    }

    @Override
    public void setRegs(X86Regs regs) {
        fd.setRegs(regs);
    }

    @Override
    public X86Sregs getSregs() {
        return fd.getSregs();
    }

    @Override
    public void setSregs(X86Sregs sregs) {
        fd.setSregs(sregs);
    }

    @Override
    public X86Fpu getFpu() {
        return fd.getFpu();
    }

    @Override
    public void setFpu(X86Fpu fpu) {
        fd.setFpu(fpu);
    }

    @Override
    public List<Msr> getMsrs(int... indices) {
        return fd.getMsrs(indices);
    }

    @Override
    public void setMsrs(List<Msr> msrs) {
        fd.setMsrs(msrs);
    }

    @Override
    public List<CpuidEntry> supportedCpuid() {
        return supportedCpuid.get();
    }

    @Override
    public void setCpuid(List<CpuidEntry> entries) {
        fd.setCpuid2(entries);
    }

    @Override
    public LapicState getLapic() {
        return new LapicState(fd.getLapic());
    }

    @Override
    public void setLapic(LapicState lapic) {
        fd.setLapic(lapic.registers());
    }

    @Override
    public MpState getMpState() {
        return mpState(fd.getMpState());
    }

    @Override
    public void setMpState(MpState state) {
        fd.setMpState(state.ordinal());
    }
}
