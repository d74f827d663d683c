package dev.nimbus.hypervisor.x86;

import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.Vcpu;

import java.util.List;

/**
 * The x86-64 register and CPU-model interface of a vCPU, used by {@code arch-x86_64} to put a vCPU into
 * the state a boot protocol requires. Called on the vCPU's own thread, while it is not running.
 */
public interface X86Vcpu extends Vcpu {
    X86Regs getRegs();

    void setRegs(X86Regs regs);

    X86Sregs getSregs();

    void setSregs(X86Sregs sregs);

    X86Fpu getFpu();

    void setFpu(X86Fpu fpu);

    /** Reads the MSRs with the given indices; an index the hypervisor does not know is left out of the result. */
    List<Msr> getMsrs(int... indices);

    /** Writes MSRs; throws when the hypervisor refuses one, naming it. */
    void setMsrs(List<Msr> msrs);

    /** The CPUID leaves the hypervisor can offer on this host (the starting point for a guest's CPUID). */
    List<CpuidEntry> supportedCpuid();

    /** Sets the CPUID the guest sees on this vCPU. */
    void setCpuid(List<CpuidEntry> entries);

    LapicState getLapic();

    void setLapic(LapicState lapic);

    MpState getMpState();

    void setMpState(MpState state);
}
