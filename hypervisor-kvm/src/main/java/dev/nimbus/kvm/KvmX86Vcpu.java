package dev.nimbus.kvm;

import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.LapicState;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;
import dev.nimbus.kvm.fd.KvmVcpuFd;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * An x86-64 KVM vCPU. Its saved state ({@link #saveState()}) is the kernel's structs as bytes, one record each
 * ({@link X86VcpuState}), read and written in the orders Firecracker found the kernel to need:
 * <ul>
 *   <li>saving: MP state first ({@code KVM_GET_MP_STATE} takes pending INIT/SIPI events into the local APIC, which
 *       changes what the later calls read), registers, system registers, XSAVE, XCRs, debug registers, local APIC,
 *       MSRs, vCPU events (after the local APIC, whose read may change them), CPUID, TSC frequency;</li>
 *   <li>restoring: the TSC frequency where it differs (before the TSC MSR), CPUID (it decides which MSRs and XSAVE
 *       components exist), MP state, registers, system
 *       registers (the APIC base, before the local APIC), XSAVE, XCRs, debug registers, local APIC (before the MSRs:
 *       the TSC deadline MSR needs its timer mode), MSRs, vCPU events last.</li>
 * </ul>
 */
public final class KvmX86Vcpu extends KvmVcpu implements X86Vcpu {
    private final Supplier<List<CpuidEntry>> supportedCpuid;
    private final int[] msrsToSave;
    private final int xsaveSize;
    /** Whether KVM tells the vCPU's TSC frequency ({@code KVM_CAP_GET_TSC_KHZ}). */
    private final boolean tscKhzKnown;

    /**
     * @param msrsToSave the MSRs KVM reports it saves and restores ({@code KVM_GET_MSR_INDEX_LIST}), read once per
     *                   backend
     * @param xsaveSize  the size of the XSAVE area, {@code KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)} on the VM (4096 where
     *                   the capability is absent)
     * @param tscKhzKnown whether the VM has {@code KVM_CAP_GET_TSC_KHZ}, so that the TSC frequency is saved
     */
    KvmX86Vcpu(KvmVcpuFd fd, Supplier<List<CpuidEntry>> supportedCpuid, int[] msrsToSave, int xsaveSize,
               boolean tscKhzKnown) {
        super(fd);
        this.supportedCpuid = supportedCpuid;
        this.msrsToSave = msrsToSave.clone();
        this.xsaveSize = Math.max(xsaveSize, X86VcpuState.LEGACY_XSAVE_SIZE);
        this.tscKhzKnown = tscKhzKnown;
    }

    /**
     * The vCPU's state as ten records ({@link X86VcpuState}), eleven with the TSC frequency where KVM tells it, after
     * completing the exit being handled. An MSR of
     * KVM's list that this vCPU cannot read (one its CPUID does not offer) is left out.
     */
    @Override
    public List<StateRecord> saveState() {
        completePendingExit();
        byte[] mpState = fd.getMpStateStruct();
        byte[] regs = fd.getRegsStruct();
        byte[] sregs = fd.getSregsStruct();
        byte[] xsave = xsaveSize > X86VcpuState.LEGACY_XSAVE_SIZE ? fd.getXsave2(xsaveSize) : fd.getXsave();
        byte[] xcrs = fd.getXcrs();
        byte[] debugRegs = fd.getDebugRegs();
        byte[] lapic = fd.getLapic();
        byte[] msrs = fd.getMsrsStruct(msrsToSave);
        byte[] vcpuEvents = fd.getVcpuEvents();
        byte[] cpuid = fd.getCpuid2();
        int v = X86VcpuState.VERSION;
        List<StateRecord> records = new ArrayList<>(List.of(new StateRecord(X86VcpuState.MP_STATE, v, mpState),
                new StateRecord(X86VcpuState.REGS, v, regs),
                new StateRecord(X86VcpuState.SREGS, v, sregs), new StateRecord(X86VcpuState.XSAVE, v, xsave),
                new StateRecord(X86VcpuState.XCRS, v, xcrs), new StateRecord(X86VcpuState.DEBUGREGS, v, debugRegs),
                new StateRecord(X86VcpuState.LAPIC, v, lapic), new StateRecord(X86VcpuState.MSRS, v, msrs),
                new StateRecord(X86VcpuState.VCPU_EVENTS, v, vcpuEvents), new StateRecord(X86VcpuState.CPUID, v, cpuid)));
        if (tscKhzKnown) {
            records.add(X86VcpuState.tscKhzRecord(fd.getTscKhz()));
        }
        return List.copyOf(records);
    }

    /**
     * Checks every record first ({@link X86VcpuState#check}: presence, version, size, the CPUID's features against
     * {@link #supportedCpuid()}), then sets them. An MSR KVM refuses is a {@link StateException} naming it.
     */
    @Override
    public void restoreState(List<StateRecord> records) {
        X86VcpuState.Checked c = X86VcpuState.check(records, xsaveSize, supportedCpuid());
        restoreTscKhz(c);
        fd.setCpuid2(c.cpuid());
        fd.setMpStateStruct(c.mpState());
        fd.setRegsStruct(c.regs());
        fd.setSregsStruct(c.sregs());
        fd.setXsave(c.xsave(), xsaveSize);
        fd.setXcrs(c.xcrs());
        fd.setDebugRegs(c.debugRegs());
        fd.setLapic(c.lapic());
        int set = fd.setMsrsStruct(c.msrs());
        if (set < c.msrCount()) {
            throw new StateException(String.format("%s: KVM refused MSR 0x%x = 0x%x (entry %d of %d) on vCPU %d",
                    X86VcpuState.MSRS, c.msrIndex(set), c.msrValue(set), set, c.msrCount(), id()));
        }
        fd.setVcpuEvents(c.vcpuEvents());
    }

    /**
     * Gives the vCPU the saved TSC frequency where it differs from the one this host gave it, first of all (the
     * TSC MSR set later counts at that rate). KVM takes it where it scales the TSC ({@code KVM_CAP_TSC_CONTROL}),
     * within its tolerance of the host's rate, or above that rate by catching up; it refuses a lower rate it cannot
     * scale to: a guest that calibrated its clock on one host would otherwise count time wrongly on another.
     */
    private void restoreTscKhz(X86VcpuState.Checked c) {
        if (!c.hasTscKhz() || !tscKhzKnown) {
            return;
        }
        int here = fd.getTscKhz();
        if (here == c.tscKhz()) {
            return;
        }
        try {
            fd.setTscKhz(c.tscKhz());
        } catch (SyscallException e) {
            throw new StateException(String.format("%s: the saved guest's TSC ran at %d kHz and this host's runs at %d kHz;"
                    + " KVM refused to run it at %d kHz (%s): it scales the TSC only with KVM_CAP_TSC_CONTROL",
                    X86VcpuState.TSC_KHZ, c.tscKhz(), here, c.tscKhz(), e.getMessage()));
        }
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
