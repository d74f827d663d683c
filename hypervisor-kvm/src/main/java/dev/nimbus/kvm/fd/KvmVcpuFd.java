package dev.nimbus.kvm.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.host.Errno;
import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.KvmStructs;
import dev.nimbus.kvm.abi.X86KvmStructs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.nimbus.kvm.abi.Arm64KvmStructs.KVM_VCPU_INIT;
import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_FEATURES;
import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_FEATURE_WORDS;
import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_TARGET;
import static dev.nimbus.kvm.abi.KvmIoctls.*;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_ONE_REG;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_REG_LIST;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_SIGNAL_MASK;
import static dev.nimbus.kvm.abi.KvmStructs.MP_STATE_MP_STATE;
import static dev.nimbus.kvm.abi.KvmStructs.ONE_REG_ADDR;
import static dev.nimbus.kvm.abi.KvmStructs.ONE_REG_ID;
import static dev.nimbus.kvm.abi.KvmStructs.REG_LIST_N;
import static dev.nimbus.kvm.abi.KvmStructs.SIGNAL_MASK_LEN;
import static dev.nimbus.kvm.abi.X86KvmStructs.CPUID2_NENT;
import static dev.nimbus.kvm.abi.X86KvmStructs.MSRS_NMSRS;
import static dev.nimbus.kvm.abi.X86KvmStructs.MSR_ENTRY_DATA;
import static dev.nimbus.kvm.abi.X86KvmStructs.MSR_ENTRY_INDEX;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A vCPU file descriptor and its mapped {@code kvm_run} page. {@link #run()} and the register calls belong
 * to the vCPU's thread; {@link #requestImmediateExit} may be called from any thread.
 */
public final class KvmVcpuFd extends KvmFd {
    private static final long MSR_ENTRY = X86KvmStructs.KVM_MSR_ENTRY.byteSize();
    private static final long MSRS_HEADER = X86KvmStructs.KVM_MSRS.byteSize();
    /** The kernel refuses {@code KVM_GET_MSRS}/{@code KVM_SET_MSRS} of this many entries or more (E2BIG). */
    private static final int MSR_BATCH_LIMIT = 256;
    private static final int MSR_BATCH = MSR_BATCH_LIMIT - 1;
    /** The kernel's sigset (64 signals), which follows {@code kvm_signal_mask.len}. */
    private static final int KERNEL_SIGSET_SIZE = 8;
    /** Where a one-reg call's value goes: right behind the {@code kvm_one_reg} in the scratch. */
    private static final long ONE_REG_VALUE = KVM_ONE_REG.byteSize();

    private final int id;
    private final long runAddress;
    private final long runSize;
    private final MemorySegment run;

    KvmVcpuFd(int fd, int id, long runAddress, long runSize, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
        this.id = id;
        this.runAddress = runAddress;
        this.runSize = runSize;
        this.run = MemorySegment.ofAddress(runAddress).reinterpret(runSize);
    }

    public int id() {
        return id;
    }

    /** The shared kvm_run mapping (valid until {@link #close()}). */
    public MemorySegment runPage() {
        return run;
    }

    /**
     * {@code KVM_RUN}. Returns 0 when the vCPU exited (the reason is in the kvm_run page), or minus the errno
     * for the expected interruptions: {@code -EINTR} (a signal or {@code immediate_exit}) and {@code -EAGAIN}.
     * Other errors throw. Allocates nothing. The one ioctl that is not repeated on EINTR.
     */
    public int run() {
        int r = ioctlOnce(KVM_RUN, 0L);
        if (r >= 0) {
            return 0;
        }
        if (r == -Errno.EINTR || r == -Errno.EAGAIN) {
            return r;
        }
        throw new SyscallException("KVM_RUN(vCPU " + id + ")", -r);
    }

    /** Sets or clears {@code kvm_run.immediate_exit} (a volatile store: the kernel reads it on entry). */
    public void requestImmediateExit(boolean on) {
        JAVA_BYTE.varHandle().setVolatile(run, KvmStructs.RUN_IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    /**
     * {@code KVM_SET_SIGNAL_MASK}: the signal mask (kernel 64-bit set) in force while the guest runs;
     * the thread's own mask is restored on the way out.
     */
    public void setSignalMask(long kernelSigset) {
        MemorySegment s = scratch(KVM_SIGNAL_MASK.byteSize() + KERNEL_SIGSET_SIZE);
        s.set(JAVA_INT, SIGNAL_MASK_LEN, KERNEL_SIGSET_SIZE);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, KVM_SIGNAL_MASK.byteSize(), kernelSigset);
        ioctl(KVM_SET_SIGNAL_MASK, s, "KVM_SET_SIGNAL_MASK");
    }

    // ---- x86-64 ----

    public X86Regs getRegs() {
        MemorySegment s = scratch(X86KvmStructs.KVM_REGS.byteSize());
        ioctl(KVM_GET_REGS, s, "KVM_GET_REGS");
        return X86Codec.readRegs(s);
    }

    public void setRegs(X86Regs regs) {
        MemorySegment s = scratch(X86KvmStructs.KVM_REGS.byteSize());
        X86Codec.writeRegs(regs, s);
        ioctl(KVM_SET_REGS, s, "KVM_SET_REGS");
    }

    public X86Sregs getSregs() {
        MemorySegment s = scratch(X86KvmStructs.KVM_SREGS.byteSize());
        ioctl(KVM_GET_SREGS, s, "KVM_GET_SREGS");
        return X86Codec.readSregs(s);
    }

    public void setSregs(X86Sregs sregs) {
        MemorySegment s = scratch(X86KvmStructs.KVM_SREGS.byteSize());
        X86Codec.writeSregs(sregs, s);
        ioctl(KVM_SET_SREGS, s, "KVM_SET_SREGS");
    }

    public X86Fpu getFpu() {
        MemorySegment s = scratch(X86KvmStructs.KVM_FPU.byteSize());
        ioctl(KVM_GET_FPU, s, "KVM_GET_FPU");
        return X86Codec.readFpu(s);
    }

    public void setFpu(X86Fpu fpu) {
        MemorySegment s = scratch(X86KvmStructs.KVM_FPU.byteSize());
        X86Codec.writeFpu(fpu, s);
        ioctl(KVM_SET_FPU, s, "KVM_SET_FPU");
    }

    /**
     * {@code KVM_GET_MSRS}: reads the MSRs with the given indices. The kernel stops at the first index it
     * does not know; that one is left out and the rest are read.
     */
    public List<Msr> getMsrs(int... indices) {
        List<Msr> out = new ArrayList<>(indices.length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(MSRS_HEADER + MSR_ENTRY * Math.max(1, indices.length), 8);
            int from = 0;
            while (from < indices.length) {
                int n = indices.length - from;
                s.fill((byte) 0);
                s.set(JAVA_INT, MSRS_NMSRS, n);
                for (int i = 0; i < n; i++) {
                    s.set(JAVA_INT, MSRS_HEADER + i * MSR_ENTRY + MSR_ENTRY_INDEX, indices[from + i]);
                }
                int read = ioctl(KVM_GET_MSRS, s, "KVM_GET_MSRS");
                for (int i = 0; i < read; i++) {
                    out.add(new Msr(indices[from + i], s.get(JAVA_LONG, MSRS_HEADER + i * MSR_ENTRY + MSR_ENTRY_DATA)));
                }
                from += read + 1;  // skip the one the kernel refused (if any)
            }
        }
        return out;
    }

    /** {@code KVM_SET_MSRS}: throws naming the first MSR the kernel refused. */
    public void setMsrs(List<Msr> msrs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(MSRS_HEADER + MSR_ENTRY * Math.max(1, msrs.size()), 8);
            s.set(JAVA_INT, MSRS_NMSRS, msrs.size());
            for (int i = 0; i < msrs.size(); i++) {
                s.set(JAVA_INT, MSRS_HEADER + i * MSR_ENTRY + MSR_ENTRY_INDEX, msrs.get(i).index());
                s.set(JAVA_LONG, MSRS_HEADER + i * MSR_ENTRY + MSR_ENTRY_DATA, msrs.get(i).value());
            }
            int written = ioctl(KVM_SET_MSRS, s, "KVM_SET_MSRS");
            if (written < msrs.size()) {
                Msr bad = msrs.get(written);
                throw new HypervisorException(String.format("KVM_SET_MSRS refused MSR 0x%x = 0x%x (vCPU %d)",
                        bad.index(), bad.value(), id));
            }
        }
    }

    /** {@code KVM_SET_CPUID2}. */
    public void setCpuid2(List<CpuidEntry> entries) {
        long header = X86KvmStructs.KVM_CPUID2.byteSize();
        long size = X86KvmStructs.KVM_CPUID_ENTRY2.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(header + size * entries.size(), 8);
            s.set(JAVA_INT, CPUID2_NENT, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                X86Codec.writeCpuid(entries.get(i), s.asSlice(header + i * size, size));
            }
            ioctl(KVM_SET_CPUID2, s, "KVM_SET_CPUID2");
        }
    }

    public byte[] getLapic() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = arena.allocate(X86KvmStructs.KVM_LAPIC_STATE);
            ioctl(KVM_GET_LAPIC, l, "KVM_GET_LAPIC");
            return l.toArray(JAVA_BYTE);
        }
    }

    public void setLapic(byte[] registers) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = arena.allocate(X86KvmStructs.KVM_LAPIC_STATE);
            MemorySegment.copy(registers, 0, l, JAVA_BYTE, 0, Math.min(registers.length, (int) l.byteSize()));
            ioctl(KVM_SET_LAPIC, l, "KVM_SET_LAPIC");
        }
    }

    /** {@code KVM_GET_VCPU_EVENTS}: the raw {@code struct kvm_vcpu_events} (pending exceptions, NMIs, SMIs). */
    public byte[] getVcpuEvents() {
        long size = X86KvmStructs.KVM_VCPU_EVENTS.byteSize();
        MemorySegment s = scratch(size);
        ioctl(KVM_GET_VCPU_EVENTS, s, "KVM_GET_VCPU_EVENTS");
        return s.asSlice(0, size).toArray(JAVA_BYTE);
    }

    public void setVcpuEvents(byte[] events) {
        long size = X86KvmStructs.KVM_VCPU_EVENTS.byteSize();
        MemorySegment s = scratch(size);
        MemorySegment.copy(events, 0, s, JAVA_BYTE, 0, (int) Math.min(events.length, size));
        ioctl(KVM_SET_VCPU_EVENTS, s, "KVM_SET_VCPU_EVENTS");
    }

    /** {@code KVM_GET_XSAVE}: the 4 KiB legacy XSAVE area. */
    public byte[] getXsave() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(X86KvmStructs.KVM_XSAVE);
            ioctl(KVM_GET_XSAVE, s, "KVM_GET_XSAVE");
            return s.toArray(JAVA_BYTE);
        }
    }

    /**
     * {@code KVM_SET_XSAVE}. The kernel reads as many bytes as {@code KVM_CAP_XSAVE2} says (at least 4096); an
     * area shorter than that is passed zero-filled behind it.
     */
    public void setXsave(byte[] area) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Math.max(area.length, X86KvmStructs.KVM_XSAVE.byteSize()), 8);
            MemorySegment.copy(area, 0, s, JAVA_BYTE, 0, area.length);
            ioctl(KVM_SET_XSAVE, s, "KVM_SET_XSAVE");
        }
    }

    /** {@code KVM_SET_XSAVE} with an area zero-filled to {@code size} bytes, the VM's {@code KVM_CAP_XSAVE2} size. */
    public void setXsave(byte[] area, int size) {
        setXsave(area.length >= size ? area : Arrays.copyOf(area, size));
    }

    // ---- x86-64 saved state: each call moves the kernel's struct as bytes, for a snapshot ----

    /** {@code KVM_GET_REGS} as the kernel's {@code struct kvm_regs}. */
    public byte[] getRegsStruct() {
        return getStruct(KVM_GET_REGS, X86KvmStructs.KVM_REGS, "KVM_GET_REGS");
    }

    public void setRegsStruct(byte[] regs) {
        setStruct(KVM_SET_REGS, X86KvmStructs.KVM_REGS, regs, "KVM_SET_REGS");
    }

    /** {@code KVM_GET_SREGS} as the kernel's {@code struct kvm_sregs}. */
    public byte[] getSregsStruct() {
        return getStruct(KVM_GET_SREGS, X86KvmStructs.KVM_SREGS, "KVM_GET_SREGS");
    }

    public void setSregsStruct(byte[] sregs) {
        setStruct(KVM_SET_SREGS, X86KvmStructs.KVM_SREGS, sregs, "KVM_SET_SREGS");
    }

    /** {@code KVM_GET_MP_STATE} as the kernel's {@code struct kvm_mp_state}. */
    public byte[] getMpStateStruct() {
        return getStruct(KVM_GET_MP_STATE, KvmStructs.KVM_MP_STATE, "KVM_GET_MP_STATE");
    }

    public void setMpStateStruct(byte[] state) {
        setStruct(KVM_SET_MP_STATE, KvmStructs.KVM_MP_STATE, state, "KVM_SET_MP_STATE");
    }

    /** {@code KVM_GET_XCRS}: the kernel's {@code struct kvm_xcrs} (XCR0 and any other extended control register). */
    public byte[] getXcrs() {
        return getStruct(KVM_GET_XCRS, X86KvmStructs.KVM_XCRS, "KVM_GET_XCRS");
    }

    public void setXcrs(byte[] xcrs) {
        setStruct(KVM_SET_XCRS, X86KvmStructs.KVM_XCRS, xcrs, "KVM_SET_XCRS");
    }

    /** {@code KVM_GET_DEBUGREGS}: the kernel's {@code struct kvm_debugregs} (DR0-3, DR6, DR7). */
    public byte[] getDebugRegs() {
        return getStruct(KVM_GET_DEBUGREGS, X86KvmStructs.KVM_DEBUGREGS, "KVM_GET_DEBUGREGS");
    }

    public void setDebugRegs(byte[] debugRegs) {
        setStruct(KVM_SET_DEBUGREGS, X86KvmStructs.KVM_DEBUGREGS, debugRegs, "KVM_SET_DEBUGREGS");
    }

    /**
     * {@code KVM_GET_XSAVE2}: the XSAVE area of {@code size} bytes, the size {@code KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)}
     * gives on the VM (larger than 4096 where the process enabled a dynamic state component such as AMX).
     */
    public byte[] getXsave2(int size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Math.max(size, X86KvmStructs.KVM_XSAVE.byteSize()), 8);
            ioctl(KVM_GET_XSAVE2, s, "KVM_GET_XSAVE2");
            return s.asSlice(0, size).toArray(JAVA_BYTE);
        }
    }

    /**
     * {@code KVM_GET_CPUID2}: the CPUID this vCPU was given ({@code KVM_SET_CPUID2}, as KVM keeps it: with the
     * bits it updates itself, such as OSXSAVE) as the kernel's {@code struct kvm_cpuid2} and its entries. The
     * kernel answers E2BIG, without the count, to a buffer too small; the buffer then grows.
     */
    public byte[] getCpuid2() {
        long header = X86KvmStructs.KVM_CPUID2.byteSize();
        long entry = X86KvmStructs.KVM_CPUID_ENTRY2.byteSize();
        for (int capacity = 256; ; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = arena.allocate(header + entry * capacity, 8);
                s.set(JAVA_INT, CPUID2_NENT, capacity);
                int r = ioctlErrno(KVM_GET_CPUID2, s, "KVM_GET_CPUID2");
                if (r == -Errno.E2BIG && capacity < 4096) {
                    continue;
                }
                if (r < 0) {
                    throw new SyscallException("KVM_GET_CPUID2", -r);
                }
                int n = s.get(JAVA_INT, CPUID2_NENT);
                return s.asSlice(0, header + entry * n).toArray(JAVA_BYTE);
            }
        }
    }

    /** {@code KVM_SET_CPUID2} from the kernel's {@code struct kvm_cpuid2} with its entries, as {@link #getCpuid2} gave it. */
    public void setCpuid2(byte[] cpuid2) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Math.max(cpuid2.length, X86KvmStructs.KVM_CPUID2.byteSize()), 8);
            MemorySegment.copy(cpuid2, 0, s, JAVA_BYTE, 0, cpuid2.length);
            ioctl(KVM_SET_CPUID2, s, "KVM_SET_CPUID2");
        }
    }

    /**
     * {@code KVM_GET_MSRS} of {@code indices}, as one {@code struct kvm_msrs} with the entries KVM could read, in
     * the order asked. The kernel takes fewer than {@value #MSR_BATCH_LIMIT} at a time ({@code MAX_IO_MSRS}), so
     * they are asked in batches; it stops a batch at the first MSR it cannot read, which is left out, and the
     * batch goes on after it.
     */
    public byte[] getMsrsStruct(int[] indices) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(MSRS_HEADER + MSR_ENTRY * indices.length, 8);
            MemorySegment batch = arena.allocate(MSRS_HEADER + MSR_ENTRY * MSR_BATCH, 8);
            int kept = 0;
            int from = 0;
            while (from < indices.length) {
                int n = Math.min(MSR_BATCH, indices.length - from);
                batch.fill((byte) 0);
                batch.set(JAVA_INT, MSRS_NMSRS, n);
                for (int i = 0; i < n; i++) {
                    batch.set(JAVA_INT, MSRS_HEADER + i * MSR_ENTRY + MSR_ENTRY_INDEX, indices[from + i]);
                }
                int read = ioctl(KVM_GET_MSRS, batch, "KVM_GET_MSRS");
                MemorySegment.copy(batch, MSRS_HEADER, out, MSRS_HEADER + kept * MSR_ENTRY, read * MSR_ENTRY);
                kept += read;
                from += read < n ? read + 1 : n;  // past the one the kernel could not read, if any
            }
            out.set(JAVA_INT, MSRS_NMSRS, kept);
            return out.asSlice(0, MSRS_HEADER + kept * MSR_ENTRY).toArray(JAVA_BYTE);
        }
    }

    /**
     * {@code KVM_SET_MSRS} of a {@code struct kvm_msrs} with its entries, in batches as {@link #getMsrsStruct}
     * reads them. Returns how many entries KVM set: all of them, or the position of the first it refused.
     */
    public int setMsrsStruct(byte[] msrs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment all = arena.allocate(Math.max(msrs.length, MSRS_HEADER), 8);
            MemorySegment.copy(msrs, 0, all, JAVA_BYTE, 0, msrs.length);
            int total = all.get(JAVA_INT, MSRS_NMSRS);
            MemorySegment batch = arena.allocate(MSRS_HEADER + MSR_ENTRY * MSR_BATCH, 8);
            int done = 0;
            while (done < total) {
                int n = Math.min(MSR_BATCH, total - done);
                batch.fill((byte) 0);
                batch.set(JAVA_INT, MSRS_NMSRS, n);
                MemorySegment.copy(all, MSRS_HEADER + done * MSR_ENTRY, batch, MSRS_HEADER, n * MSR_ENTRY);
                int written = ioctl(KVM_SET_MSRS, batch, "KVM_SET_MSRS");
                done += written;
                if (written < n) {
                    break;
                }
            }
            return done;
        }
    }



    /** {@code KVM_SET_TSC_KHZ}: the guest TSC frequency (needs KVM_CAP_TSC_CONTROL). */
    public void setTscKhz(int khz) {
        ioctl(KVM_SET_TSC_KHZ, khz, "KVM_SET_TSC_KHZ");
    }

    /** {@code KVM_GET_TSC_KHZ}. */
    public int getTscKhz() {
        return ioctl(KVM_GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ");
    }

    // ---- all architectures ----

    /** {@code KVM_GET_MP_STATE}: the raw KVM_MP_STATE_* value. */
    public int getMpState() {
        MemorySegment s = scratch(KvmStructs.KVM_MP_STATE.byteSize());
        ioctl(KVM_GET_MP_STATE, s, "KVM_GET_MP_STATE");
        return s.get(JAVA_INT, MP_STATE_MP_STATE);
    }

    public void setMpState(int state) {
        MemorySegment s = scratch(KvmStructs.KVM_MP_STATE.byteSize());
        s.set(JAVA_INT, MP_STATE_MP_STATE, state);
        ioctl(KVM_SET_MP_STATE, s, "KVM_SET_MP_STATE");
    }

    private static int regSize(long regId) {
        return 1 << (int) ((regId & KvmConstants.KVM_REG_SIZE_MASK) >>> KvmConstants.KVM_REG_SIZE_SHIFT);
    }

    /** {@code KVM_GET_ONE_REG} of a register of up to 64 bits. */
    public long getOneReg(long regId) {
        int size = scalarRegSize(regId);
        MemorySegment s = oneReg(regId);
        oneRegIoctl(KVM_GET_ONE_REG, "KVM_GET_ONE_REG", regId, s);
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(s.get(JAVA_BYTE, ONE_REG_VALUE));
            case 2 -> Short.toUnsignedLong(s.get(ValueLayout.JAVA_SHORT, ONE_REG_VALUE));
            case 4 -> Integer.toUnsignedLong(s.get(JAVA_INT, ONE_REG_VALUE));
            default -> s.get(JAVA_LONG, ONE_REG_VALUE);
        };
    }

    /** {@code KVM_SET_ONE_REG} of a register of up to 64 bits. */
    public void setOneReg(long regId, long value) {
        scalarRegSize(regId);
        MemorySegment s = oneReg(regId);
        s.set(JAVA_LONG, ONE_REG_VALUE, value);  // little-endian: the low `size` bytes are the value
        oneRegIoctl(KVM_SET_ONE_REG, "KVM_SET_ONE_REG", regId, s);
    }

    private static int scalarRegSize(long regId) {
        int size = regSize(regId);
        if (size > 8) {
            throw new IllegalArgumentException(String.format("register 0x%x is %d bytes; use the byte[] form", regId, size));
        }
        return size;
    }

    /** A {@code kvm_one_reg} for {@code regId} in the scratch, pointing at the 8 bytes right behind it. */
    private static MemorySegment oneReg(long regId) {
        MemorySegment s = scratch(ONE_REG_VALUE + 8);
        s.set(JAVA_LONG, ONE_REG_ID, regId);
        s.set(JAVA_LONG, ONE_REG_ADDR, s.address() + ONE_REG_VALUE);
        return s;
    }

    /** The one-reg ioctl; the register id goes into the name only when it failed (formatting is not free). */
    private void oneRegIoctl(long request, String ioctl, long regId, MemorySegment oneReg) {
        int r = ioctlErrno(request, oneReg, ioctl);
        if (r < 0) {
            throw new SyscallException(String.format("%s(0x%x)", ioctl, regId), -r);
        }
    }

    /** {@code KVM_GET_ONE_REG} of a register of any size into {@code value} (its length must be the size). */
    public void getOneReg(long regId, byte[] value) {
        checkRegBuffer(regId, value);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(value.length, 16);
            MemorySegment s = arena.allocate(KVM_ONE_REG);
            s.set(JAVA_LONG, ONE_REG_ID, regId);
            s.set(JAVA_LONG, ONE_REG_ADDR, v.address());
            oneRegIoctl(KVM_GET_ONE_REG, "KVM_GET_ONE_REG", regId, s);
            MemorySegment.copy(v, JAVA_BYTE, 0, value, 0, value.length);
        }
    }

    /** {@code KVM_SET_ONE_REG} of a register of any size from {@code value} (its length must be the size). */
    public void setOneReg(long regId, byte[] value) {
        checkRegBuffer(regId, value);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(value.length, 16);
            MemorySegment.copy(value, 0, v, JAVA_BYTE, 0, value.length);
            MemorySegment s = arena.allocate(KVM_ONE_REG);
            s.set(JAVA_LONG, ONE_REG_ID, regId);
            s.set(JAVA_LONG, ONE_REG_ADDR, v.address());
            oneRegIoctl(KVM_SET_ONE_REG, "KVM_SET_ONE_REG", regId, s);
        }
    }

    private static void checkRegBuffer(long regId, byte[] value) {
        if (value.length != regSize(regId)) {
            throw new IllegalArgumentException(String.format("register 0x%x is %d bytes, buffer has %d",
                    regId, regSize(regId), value.length));
        }
    }

    /** {@code KVM_GET_REG_LIST}: asks for the count first (E2BIG), then the ids. */
    public long[] getRegList() {
        try (Arena arena = Arena.ofConfined()) {
            long header = KVM_REG_LIST.byteSize();
            MemorySegment probe = arena.allocate(KVM_REG_LIST);  // n = 0: the kernel answers E2BIG and the count
            int r = ioctlErrno(KVM_GET_REG_LIST, probe, "KVM_GET_REG_LIST");
            if (r < 0 && -r != Errno.E2BIG) {
                throw new SyscallException("KVM_GET_REG_LIST", -r);
            }
            long n = probe.get(JAVA_LONG, REG_LIST_N);
            MemorySegment s = arena.allocate(header + JAVA_LONG.byteSize() * n, 8);
            s.set(JAVA_LONG, REG_LIST_N, n);
            ioctl(KVM_GET_REG_LIST, s, "KVM_GET_REG_LIST");
            long got = s.get(JAVA_LONG, REG_LIST_N);
            long[] out = new long[(int) got];
            MemorySegment.copy(s, JAVA_LONG, header, out, 0, out.length);
            return out;
        }
    }

    // ---- AArch64 ----

    /** {@code KVM_ARM_VCPU_INIT} with {@code target} and a features bitmap (KVM_ARM_VCPU_* bit numbers). */
    public void armVcpuInit(int target, int[] features) {
        MemorySegment s = scratch(KVM_VCPU_INIT.byteSize());
        s.set(JAVA_INT, VCPU_INIT_TARGET, target);
        MemorySegment.copy(features, 0, s, JAVA_INT, VCPU_INIT_FEATURES, Math.min(VCPU_INIT_FEATURE_WORDS, features.length));
        ioctl(KVM_ARM_VCPU_INIT, s, "KVM_ARM_VCPU_INIT(vCPU " + id + ")");
    }

    @Override
    public void close() {
        if (!isClosed()) {
            LibC.munmap(runAddress, runSize);
            super.close();
        }
    }
}
