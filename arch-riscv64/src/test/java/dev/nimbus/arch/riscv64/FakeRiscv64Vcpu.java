package dev.nimbus.arch.riscv64;

import dev.nimbus.arch.riscv64.hart.Registers;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A riscv64 hart that answers one-reg reads from a register map, as KVM would on a host whose harts have
 * {@code imafdch} (KVM reports H in {@code config.isa} on some hosts) and the given multi-letter extensions,
 * and records every write.
 */
public final class FakeRiscv64Vcpu implements Riscv64Vcpu {
    /** {@code config.isa} of an RV64IMAFDCH hart: bit n for letter 'a' + n. */
    public static final long IMAFDCH = bits("imafdch");
    private final int id;
    public final Map<Long, Long> regs = new LinkedHashMap<>();
    /** Whether KVM_GET_REG_LIST fails, as on riscv64 hosts before Linux 6.6. */
    public boolean noRegisterList;
    /** "set <id> <value>" in order. */
    public final List<String> calls = new ArrayList<>();

    /** A hart with {@code config.isa} = {@link #IMAFDCH}, a 10 MHz timer, Sv48 and Sstc, Zicsr, Zifencei, Zicbom (64-byte blocks) on. */
    public FakeRiscv64Vcpu(int id) {
        this.id = id;
        regs.put(Registers.CONFIG_ISA, IMAFDCH);
        regs.put(Registers.CONFIG_ZICBOM_BLOCK_SIZE, 64L);
        regs.put(Registers.CONFIG_SATP_MODE, 9L);
        regs.put(Registers.TIMER_FREQUENCY, 10_000_000L);
        regs.put(Registers.PC, 0L);
        regs.put(Registers.isaExtension(8), 1L);   // sstc
        regs.put(Registers.isaExtension(20), 1L);  // zicsr
        regs.put(Registers.isaExtension(21), 1L);  // zifencei
        regs.put(Registers.isaExtension(11), 1L);  // zicbom
    }

    public static long bits(String letters) {
        long isa = 0;
        for (char c : letters.toCharArray()) {
            isa |= 1L << (c - 'a');
        }
        return isa;
    }

    @Override public int id() { return id; }
    @Override public VcpuExit run() { throw new UnsupportedOperationException("a fake vCPU does not run"); }
    @Override public void kick() { }
    @Override public void close() { }

    @Override
    public long getOneReg(long id) {
        Long v = regs.get(id);
        if (v == null) {
            throw new IllegalArgumentException(String.format("KVM_GET_ONE_REG failed: ENOENT (0x%x)", id));
        }
        return v;
    }

    @Override
    public void setOneReg(long id, long value) {
        calls.add(String.format("set %x %x", id, value));
        regs.put(id, value);
    }

    @Override public void getOneReg(long id, byte[] value) { throw new UnsupportedOperationException(); }
    @Override public void setOneReg(long id, byte[] value) { throw new UnsupportedOperationException(); }
    @Override
    public long[] registerList() {
        if (noRegisterList) {
            throw new IllegalStateException("KVM_GET_REG_LIST failed: EINVAL");
        }
        return regs.keySet().stream().mapToLong(Long::longValue).toArray();
    }
}
