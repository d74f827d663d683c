package dev.nimbus.arch.aarch64;

import dev.nimbus.arch.aarch64.boot.Registers;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An AArch64 vCPU that records what was done to it, starting as KVM leaves a vCPU after
 * {@code KVM_ARM_VCPU_INIT}: registers zero but MPIDR_EL1 (bit 31 set, affinity from the vCPU index) and
 * PSTATE (EL1h, DAIF masked).
 */
public final class FakeAarch64Vcpu implements Aarch64Vcpu {
    private final int id;
    public final Map<Long, Long> regs = new HashMap<>();
    /** "init(true)", "set <id>", ... in order. */
    public final List<String> calls = new ArrayList<>();

    public FakeAarch64Vcpu(int id) {
        this.id = id;
        regs.put(Registers.MPIDR_EL1, 0x8000_0000L | Aarch64Layout.mpidr(id));
        regs.put(Registers.PSTATE, 0x3c5L);
    }

    @Override public int id() { return id; }
    @Override public VcpuExit run() { throw new UnsupportedOperationException("a fake vCPU does not run"); }
    @Override public void kick() { }
    @Override public void close() { }

    @Override
    public void init(boolean poweredOff) {
        if (calls.stream().anyMatch(c -> c.startsWith("init"))) {
            throw new IllegalStateException("initialized twice");
        }
        calls.add("init(" + poweredOff + ")");
    }

    @Override
    public long getOneReg(long id) {
        requireInit();
        return regs.getOrDefault(id, 0L);
    }

    @Override
    public void setOneReg(long id, long value) {
        requireInit();
        calls.add(String.format("set %x", id));
        regs.put(id, value);
    }

    @Override public void getOneReg(long id, byte[] value) { throw new UnsupportedOperationException(); }
    @Override public void setOneReg(long id, byte[] value) { throw new UnsupportedOperationException(); }
    @Override public long[] registerList() { return regs.keySet().stream().mapToLong(Long::longValue).toArray(); }

    private void requireInit() {
        if (calls.stream().noneMatch(c -> c.startsWith("init"))) {
            throw new IllegalStateException("one-reg access before KVM_ARM_VCPU_INIT");
        }
    }
}
