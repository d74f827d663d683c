package dev.nimbus.arch.x86_64;

import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.LapicState;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;

import java.util.ArrayList;
import java.util.List;

/**
 * An x86 vCPU that records what was set, starting from the state KVM gives a new vCPU: real mode at the
 * reset vector, LVT entries masked, the APIC base at 0xfee00000 (BSP bit on vCPU 0).
 */
public class FakeX86Vcpu implements X86Vcpu {
    private final int id;
    private final List<CpuidEntry> supported;
    public X86Regs regs = X86Regs.reset();
    public X86Sregs sregs;
    public X86Fpu fpu;
    public List<CpuidEntry> cpuid;
    public final List<Msr> msrs = new ArrayList<>();
    public LapicState lapic;
    public MpState mpState = MpState.UNINITIALIZED;
    /** The names of the setters called, in order. */
    public final List<String> calls = new ArrayList<>();

    public FakeX86Vcpu(int id, List<CpuidEntry> supported) {
        this.id = id;
        this.supported = List.copyOf(supported);
        X86Segment cs = new X86Segment(0xffff0000L, 0xffff, 0xf000, 0xb, true, 0, false, true, false, false, false, false);
        X86Segment ds = new X86Segment(0, 0xffff, 0, 3, true, 0, false, true, false, false, false, false);
        X86Segment tr = new X86Segment(0, 0xffff, 0, 3, true, 0, false, false, false, false, false, false);
        X86Segment ldt = new X86Segment(0, 0xffff, 0, 2, true, 0, false, false, false, false, false, false);
        sregs = new X86Sregs(cs, ds, ds, ds, ds, ds, tr, ldt, new X86DescriptorTable(0, 0xffff),
                new X86DescriptorTable(0, 0xffff), 0x60000010L, 0x1234, 0, 0, 0, 0,
                0xfee00000L | (id == 0 ? 0x900 : 0x800), new long[4]);
        LapicState l = new LapicState(new byte[LapicState.SIZE]);
        for (int lvt = 0x320; lvt <= 0x370; lvt += 0x10) {
            l = l.withRegister(lvt, 0x10000); // masked
        }
        lapic = l.withRegister(0x20, id << 24);
    }

    @Override public int id() { return id; }
    @Override public VcpuExit run() { throw new UnsupportedOperationException("a fake vCPU does not run"); }
    @Override public void kick() { }
    @Override public void close() { }
    @Override public X86Regs getRegs() { return regs; }
    @Override public void setRegs(X86Regs r) { calls.add("setRegs"); regs = r; }
    @Override public X86Sregs getSregs() { return sregs; }
    @Override public void setSregs(X86Sregs s) { calls.add("setSregs"); sregs = s; }
    @Override public X86Fpu getFpu() { return fpu; }
    @Override public void setFpu(X86Fpu f) { calls.add("setFpu"); fpu = f; }
    @Override public List<Msr> getMsrs(int... indices) { return msrs.stream().filter(m -> java.util.Arrays.stream(indices).anyMatch(i -> i == m.index())).toList(); }
    @Override public void setMsrs(List<Msr> list) { calls.add("setMsrs"); msrs.addAll(list); }
    @Override public List<CpuidEntry> supportedCpuid() { return supported; }
    @Override public void setCpuid(List<CpuidEntry> entries) { calls.add("setCpuid"); cpuid = List.copyOf(entries); }
    @Override public LapicState getLapic() { return lapic; }
    @Override public void setLapic(LapicState l) { calls.add("setLapic"); lapic = l; }
    @Override public MpState getMpState() { return mpState; }
    @Override public void setMpState(MpState s) { calls.add("setMpState"); mpState = s; }
}
