package dev.nimbus.kvm;

import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.OneRegAccess;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.KvmStructs;
import dev.nimbus.kvm.fd.KvmVcpuFd;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A KVM vCPU programmed by register id ({@code KVM_GET_ONE_REG}/{@code KVM_SET_ONE_REG},
 * {@code KVM_GET_REG_LIST}): AArch64 and riscv64, whose one-reg access is the same ioctls on the vCPU fd.
 *
 * <p>Snapshot state is two records, named after the architecture ({@link #recordPrefix()}):
 * <ul>
 *   <li>{@code <prefix>-mp-state} (version 1): the {@code KVM_GET_MP_STATE} value, 4 bytes little-endian;</li>
 *   <li>{@code <prefix>-regs} (version 1): every register {@code KVM_GET_REG_LIST} names, in its order: a
 *       32-bit count, then per register its 64-bit id and its value, as many bytes as the id's size field
 *       says (4, 8, 16, ...), all little-endian.</li>
 * </ul>
 * Restore checks both records and that every saved id is one this vCPU has (a different CPU model or kernel
 * may lack one) before it writes anything, then writes the registers in the saved order, those of
 * {@link #restoreLast} after the rest, then the MP state. A register this vCPU has that the record lacks keeps
 * its reset value (a newer kernel listing more registers). A write KVM refuses is accepted when the register
 * already holds the saved value, which is how read-only registers answer (riscv64's timer frequency on
 * kernels before 6.6, and on AArch64 ID registers that are immutable); otherwise it is a
 * {@link StateException} naming the register.
 */
public abstract sealed class KvmOneRegVcpu extends KvmVcpu implements OneRegAccess
        permits KvmAarch64Vcpu, KvmRiscv64Vcpu {
    static final int REGS_VERSION = 1;
    static final int MP_STATE_VERSION = 1;
    /** KVM's largest one-reg size (KVM_REG_SIZE_U2048); anything larger in a record is corruption. */
    private static final int MAX_REG_BYTES = 256;

    KvmOneRegVcpu(KvmVcpuFd fd) {
        super(fd);
    }

    /** The first part of this architecture's record ids: {@code kvm-arm64}, {@code kvm-riscv64}. */
    abstract String recordPrefix();

    /** Whether restore writes register {@code id} after every other one. */
    boolean restoreLast(long id) {
        return false;
    }

    /** Makes this fresh vCPU ready to take saved state (AArch64: its {@code KVM_ARM_VCPU_INIT}). */
    void prepareRestore() {
    }

    /** The record ids, for tests and callers that look a record up. */
    public final String regsRecordId() {
        return recordPrefix() + "-regs";
    }

    public final String mpStateRecordId() {
        return recordPrefix() + "-mp-state";
    }

    @Override
    public long getOneReg(long id) {
        return fd.getOneReg(id);
    }

    @Override
    public void setOneReg(long id, long value) {
        fd.setOneReg(id, value);
    }

    @Override
    public void getOneReg(long id, byte[] value) {
        fd.getOneReg(id, value);
    }

    @Override
    public void setOneReg(long id, byte[] value) {
        fd.setOneReg(id, value);
    }

    @Override
    public long[] registerList() {
        return fd.getRegList();
    }

    private static int regBytes(long id) {
        long shift = (id & KvmConstants.KVM_REG_SIZE_MASK) >>> KvmConstants.KVM_REG_SIZE_SHIFT;
        return shift > 8 ? Integer.MAX_VALUE : 1 << shift;
    }

    @Override
    public List<StateRecord> saveState() {
        completePendingExit();
        long[] ids = fd.getRegList();
        byte[][] values = new byte[ids.length][];
        int size = 4;
        for (int i = 0; i < ids.length; i++) {
            values[i] = new byte[regBytes(ids[i])];
            fd.getOneReg(ids[i], values[i]);
            size += 8 + values[i].length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(ids.length);
        for (int i = 0; i < ids.length; i++) {
            b.putLong(ids[i]).put(values[i]);
        }
        byte[] mp = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(fd.getMpState()).array();
        return List.of(new StateRecord(mpStateRecordId(), MP_STATE_VERSION, mp),
                new StateRecord(regsRecordId(), REGS_VERSION, b.array()));
    }

    private record Reg(long id, byte[] value) {}

    @Override
    public void restoreState(List<StateRecord> records) {
        prepareRestore();
        StateRecord mpRecord = StateRecord.find(records, mpStateRecordId(), MP_STATE_VERSION).requireLength(4);
        int mpState = ByteBuffer.wrap(mpRecord.data()).order(ByteOrder.LITTLE_ENDIAN).getInt();
        StateRecord regsRecord = StateRecord.find(records, regsRecordId(), REGS_VERSION);
        List<Reg> saved = decodeRegs(regsRecord);
        Set<Long> own = new HashSet<>();
        for (long id : fd.getRegList()) {
            own.add(id);
        }
        for (Reg r : saved) {
            if (!own.contains(r.id)) {
                throw new StateException(String.format("%s: register 0x%x is not one this vCPU has (saved on a"
                        + " different CPU or kernel)", regsRecord.id(), r.id));
            }
        }
        for (Reg r : saved) {
            if (!restoreLast(r.id)) {
                set(regsRecord.id(), r);
            }
        }
        for (Reg r : saved) {
            if (restoreLast(r.id)) {
                set(regsRecord.id(), r);
            }
        }
        try {
            fd.setMpState(mpState);
        } catch (SyscallException e) {
            throw new StateException(mpRecord.id() + ": KVM refused MP state " + mpState + " (" + Errno.name(e.errno()) + ")", e);
        }
    }

    private static List<Reg> decodeRegs(StateRecord record) {
        ByteBuffer b = ByteBuffer.wrap(record.data()).order(ByteOrder.LITTLE_ENDIAN);
        List<Reg> regs = new ArrayList<>();
        try {
            int count = b.getInt();
            if (count < 0) {
                throw new StateException(record.id() + ": register count " + Integer.toUnsignedString(count) + " is corrupt");
            }
            for (int i = 0; i < count; i++) {
                long id = b.getLong();
                int bytes = regBytes(id);
                if (bytes > MAX_REG_BYTES) {
                    throw new StateException(String.format("%s: register 0x%x has an impossible size", record.id(), id));
                }
                if (b.remaining() < bytes) {
                    throw new StateException(String.format("%s: truncated in register %d of %d (0x%x)", record.id(),
                            i + 1, count, id));
                }
                byte[] value = new byte[bytes];
                b.get(value);
                regs.add(new Reg(id, value));
            }
        } catch (BufferUnderflowException e) {
            throw new StateException(record.id() + ": truncated after " + regs.size() + " registers", e);
        }
        if (b.hasRemaining()) {
            throw new StateException(record.id() + ": " + b.remaining() + " bytes after the last register");
        }
        return regs;
    }

    private void set(String recordId, Reg r) {
        try {
            fd.setOneReg(r.id, r.value);
        } catch (SyscallException e) {
            byte[] now = new byte[r.value.length];
            fd.getOneReg(r.id, now);
            if (!Arrays.equals(now, r.value)) {
                throw new StateException(String.format("%s: KVM refused register 0x%x (%s)", recordId, r.id,
                        Errno.name(e.errno())), e);
            }
        }
    }

}
