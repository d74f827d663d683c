package dev.nimbus.mshv;

import dev.nimbus.host.Errno;
import dev.nimbus.host.Signals;
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
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvRegisterName;
import dev.nimbus.mshv.abi.MshvConstants;
import dev.nimbus.mshv.fd.MshvVpFd;
import dev.nimbus.mshv.intercept.HvIntercept;
import dev.nimbus.mshv.intercept.HvMessageDecoder;
import dev.nimbus.mshv.vp.InterceptHandler;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static dev.nimbus.mshv.abi.HvStructs.*;
import static dev.nimbus.mshv.abi.MshvStructs.MSHV_RUN_VP;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A VP as the SPI's x86-64 vCPU: {@link #run()} is {@code MSHV_RUN_VP} and the {@link InterceptHandler}, the
 * registers are the x86 SPI's records mapped onto hypervisor register names, each record one batch.
 *
 * <p>The kick: {@link #kick()} records the request and, while the thread is inside {@link #run()}, sends it
 * the kick signal ({@code tgkill}), which makes {@code MSHV_RUN_VP} return EINTR; {@link #run()} checks the
 * request before entering the guest. Unlike KVM, the uapi has neither {@code immediate_exit} nor a signal
 * mask for the run, so a signal that lands between that check and the ioctl is spent on the no-op handler
 * and the VP runs on. {@link #kick()} therefore sends the signal again every millisecond until {@link #run()}
 * has taken the request or left (at most {@link #KICK_TRIES} times), so such a kick is late by about a
 * millisecond rather than lost until the VP's next intercept.
 *
 * <p>The FPU is the XMM, x87 and control/status registers in one batch; the MP state is the hypervisor's
 * internal activity register; the LAPIC is {@code MSHV_VP_STATE_LAPIC} converted to and from KVM's page
 * ({@link LapicFormat}); the supported CPUID is what the hypervisor answers the VP ({@link HypervisorCpuid}).
 */
public final class MshvVcpu implements X86Vcpu {
    private static final int KICK_SIGNAL = Signals.vcpuKickSignal();
    private static final HvRegisterName[] REGS = {
        HvRegisterName.RAX, HvRegisterName.RBX, HvRegisterName.RCX, HvRegisterName.RDX, HvRegisterName.RSI,
        HvRegisterName.RDI, HvRegisterName.RSP, HvRegisterName.RBP, HvRegisterName.R8, HvRegisterName.R9,
        HvRegisterName.R10, HvRegisterName.R11, HvRegisterName.R12, HvRegisterName.R13, HvRegisterName.R14,
        HvRegisterName.R15, HvRegisterName.RIP, HvRegisterName.RFLAGS};
    private static final HvRegisterName[] SREGS = {
        HvRegisterName.CS, HvRegisterName.DS, HvRegisterName.ES, HvRegisterName.FS, HvRegisterName.GS,
        HvRegisterName.SS, HvRegisterName.TR, HvRegisterName.LDTR, HvRegisterName.GDTR, HvRegisterName.IDTR,
        HvRegisterName.CR0, HvRegisterName.CR2, HvRegisterName.CR3, HvRegisterName.CR4, HvRegisterName.CR8,
        HvRegisterName.EFER, HvRegisterName.APIC_BASE};
    /** The x87/SSE state in one batch: XMM0-15, ST0-7, then the two control/status registers. */
    private static final HvRegisterName[] FPU = {
        HvRegisterName.XMM0, HvRegisterName.XMM1, HvRegisterName.XMM2, HvRegisterName.XMM3, HvRegisterName.XMM4,
        HvRegisterName.XMM5, HvRegisterName.XMM6, HvRegisterName.XMM7, HvRegisterName.XMM8, HvRegisterName.XMM9,
        HvRegisterName.XMM10, HvRegisterName.XMM11, HvRegisterName.XMM12, HvRegisterName.XMM13, HvRegisterName.XMM14,
        HvRegisterName.XMM15, HvRegisterName.FP_MMX0, HvRegisterName.FP_MMX1, HvRegisterName.FP_MMX2,
        HvRegisterName.FP_MMX3, HvRegisterName.FP_MMX4, HvRegisterName.FP_MMX5, HvRegisterName.FP_MMX6,
        HvRegisterName.FP_MMX7, HvRegisterName.FP_CONTROL_STATUS, HvRegisterName.XMM_CONTROL_STATUS};
    private static final int FPU_FP = 16;
    private static final int FPU_CONTROL = 24;
    private static final int FPU_XMM_CONTROL = 25;
    private static final HvRegisterName[] ACTIVITY = {HvRegisterName.INTERNAL_ACTIVITY_STATE};
    private static final HvRegisterName[] CR8 = {HvRegisterName.CR8};
    private static final long STARTUP_SUSPEND = 1L << INTERNAL_ACTIVITY_STARTUP_SUSPEND_BIT;
    private static final long HALT_SUSPEND = 1L << INTERNAL_ACTIVITY_HALT_SUSPEND_BIT;
    private static final long IDLE_SUSPEND = 1L << INTERNAL_ACTIVITY_IDLE_SUSPEND_BIT;

    /** The MSRs the hypervisor has register names for, by MSR index. */
    static final Map<Integer, HvRegisterName> MSRS = Map.ofEntries(
            Map.entry(0x10, HvRegisterName.TSC), Map.entry(0x1b, HvRegisterName.APIC_BASE),
            Map.entry(0x174, HvRegisterName.SYSENTER_CS), Map.entry(0x175, HvRegisterName.SYSENTER_ESP),
            Map.entry(0x176, HvRegisterName.SYSENTER_EIP), Map.entry(0x1a0, HvRegisterName.MSR_IA32_MISC_ENABLE),
            Map.entry(0x277, HvRegisterName.PAT),
            Map.entry(0x2ff, HvRegisterName.MSR_MTRR_DEF_TYPE), Map.entry(0xc0000080, HvRegisterName.EFER),
            Map.entry(0xc0000081, HvRegisterName.STAR), Map.entry(0xc0000082, HvRegisterName.LSTAR),
            Map.entry(0xc0000083, HvRegisterName.CSTAR), Map.entry(0xc0000084, HvRegisterName.SFMASK),
            Map.entry(0xc0000102, HvRegisterName.KERNEL_GS_BASE), Map.entry(0xc0000103, HvRegisterName.TSC_AUX));

    /** How many times {@link #kick()} sends the signal at most, a millisecond apart. */
    static final int KICK_TRIES = 1000;

    /** Sends the kick signal to a thread; a test stands in for {@code tgkill}. */
    @FunctionalInterface
    interface KickSignal {
        void send(int threadId);
    }

    private final MshvVpFd vp;
    private final InterceptHandler handler;
    private final KickSignal kickSignal;
    private final MemorySegment message;
    private final MemorySegment values;
    /** {@code MSHV_GET_VP_STATE}/{@code MSHV_SET_VP_STATE}'s buffer for the LAPIC: one page, page-aligned. */
    private final MemorySegment lapicState;
    private final AtomicBoolean kickRequested = new AtomicBoolean();
    private final Object lifecycle = new Object();
    private volatile boolean inRun;
    private volatile int threadId;
    private volatile boolean closed;

    MshvVcpu(MshvVpFd vp, InterceptHandler handler, Arena arena) {
        this(vp, handler, arena, threadId -> Signals.signalThread(threadId, KICK_SIGNAL));
    }

    MshvVcpu(MshvVpFd vp, InterceptHandler handler, Arena arena, KickSignal kickSignal) {
        this.vp = vp;
        this.handler = handler;
        this.kickSignal = kickSignal;
        this.message = arena.allocate(MSHV_RUN_VP.byteSize(), 8);
        this.values = arena.allocate(16L * 32, 16);
        this.lapicState = arena.allocate(MshvConstants.MSHV_HV_PAGE_SIZE, MshvConstants.MSHV_HV_PAGE_SIZE);
        Signals.installNoOpHandler(KICK_SIGNAL);
    }

    @Override
    public int id() {
        return vp.index();
    }

    @Override
    public VcpuExit run() {
        threadId = Signals.currentThreadId();
        inRun = true;
        VarHandle.fullFence(); // pairs with kick(): either it sees inRun, or this sees the request
        try {
            VcpuExit exit = handler.resume();
            if (exit != null) {
                return exit; // the same instruction needs another access first
            }
            while (true) {
                if (kickRequested.getAndSet(false)) {
                    return VcpuExit.INTERRUPTED;
                }
                int r = vp.run(message);
                if (r == -Errno.EINTR || r == -Errno.EAGAIN) {
                    continue; // the loop's check decides whether it was a kick
                }
                if (r < 0) {
                    return new VcpuExit.InternalError("mshv: MSHV_RUN_VP failed: " + Errno.describe(-r));
                }
                HvIntercept intercept;
                try {
                    intercept = HvMessageDecoder.decode(message);
                } catch (HypervisorException e) {
                    // a message this backend does not handle, or one outside the format: the VMM ends the VM with it
                    return new VcpuExit.Unknown(message.get(JAVA_INT_UNALIGNED, MESSAGE_HEADER + MESSAGE_HEADER_MESSAGE_TYPE), e.getMessage());
                }
                exit = handler.handle(intercept);
                if (exit != null) {
                    return exit;
                }
            }
        } finally {
            inRun = false;
        }
    }

    @Override
    public void kick() {
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            kickRequested.set(true);
        }
        VarHandle.fullFence(); // pairs with run(): either it sees the request, or this sees inRun
        for (int i = 0; i < KICK_TRIES && kickRequested.get() && inRun; i++) {
            if (i > 0) {
                LockSupport.parkNanos(1_000_000);
                if (!kickRequested.get() || !inRun) {
                    break;
                }
            }
            synchronized (lifecycle) {
                if (closed) {
                    return;
                }
                kickSignal.send(threadId);
            }
        }
    }

    // registers

    private MemorySegment get(HvRegisterName[] names) {
        vp.getRegisters(names, values);
        return values;
    }

    private void set(HvRegisterName[] names, MemorySegment v) {
        vp.setRegisters(names, v.asSlice(0, 16L * names.length));
    }

    private static long u64(MemorySegment v, int i) {
        return v.get(JAVA_LONG_UNALIGNED, 16L * i);
    }

    @Override
    public X86Regs getRegs() {
        MemorySegment v = get(REGS);
        return new X86Regs(u64(v, 0), u64(v, 1), u64(v, 2), u64(v, 3), u64(v, 4), u64(v, 5), u64(v, 6), u64(v, 7),
                u64(v, 8), u64(v, 9), u64(v, 10), u64(v, 11), u64(v, 12), u64(v, 13), u64(v, 14), u64(v, 15), u64(v, 16), u64(v, 17));
    }

    @Override
    public void setRegs(X86Regs r) {
        long[] l = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(), r.r10(), r.r11(),
            r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        values.fill((byte) 0);
        for (int i = 0; i < l.length; i++) {
            values.set(JAVA_LONG_UNALIGNED, 16L * i, l[i]);
        }
        set(REGS, values);
    }

    @Override
    public X86Sregs getSregs() {
        MemorySegment v = get(SREGS);
        X86Segment[] s = new X86Segment[8];
        for (int i = 0; i < 8; i++) {
            s[i] = segment(v.asSlice(16L * i, 16));
        }
        return new X86Sregs(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], table(v.asSlice(16L * 8, 16)),
                table(v.asSlice(16L * 9, 16)), u64(v, 10), u64(v, 11), u64(v, 12), u64(v, 13), u64(v, 14), u64(v, 15),
                u64(v, 16), new long[4]);
    }

    /**
     * Sets the segments, descriptor tables, control registers, EFER and APIC base in one batch. A pending
     * interrupt in {@code interruptBitmap} is refused: the hypervisor's LAPIC takes interrupts, not the VP's
     * registers.
     */
    @Override
    public void setSregs(X86Sregs s) {
        for (long word : s.interruptBitmap()) {
            if (word != 0) {
                throw new HypervisorException("mshv: a pending interrupt in the sregs' interrupt bitmap cannot be set on a VP");
            }
        }
        values.fill((byte) 0);
        X86Segment[] segments = {s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt()};
        for (int i = 0; i < 8; i++) {
            putSegment(values.asSlice(16L * i, 16), segments[i]);
        }
        putTable(values.asSlice(16L * 8, 16), s.gdt());
        putTable(values.asSlice(16L * 9, 16), s.idt());
        long[] rest = {s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase()};
        for (int i = 0; i < rest.length; i++) {
            values.set(JAVA_LONG_UNALIGNED, 16L * (10 + i), rest[i]);
        }
        set(SREGS, values);
    }

    static X86Segment segment(MemorySegment v) {
        int a = Short.toUnsignedInt(v.get(JAVA_SHORT_UNALIGNED, SEGMENT_ATTRIBUTES));
        boolean present = (a >>> SEGMENT_P_BIT & 1) != 0;
        return new X86Segment(v.get(JAVA_LONG_UNALIGNED, SEGMENT_BASE), v.get(JAVA_INT_UNALIGNED, SEGMENT_LIMIT),
                Short.toUnsignedInt(v.get(JAVA_SHORT_UNALIGNED, SEGMENT_SELECTOR)), a & SEGMENT_TYPE_MASK, present,
                (a >>> SEGMENT_DPL_SHIFT) & 3, (a >>> SEGMENT_DB_BIT & 1) != 0, (a >>> SEGMENT_S_BIT & 1) != 0,
                (a >>> SEGMENT_L_BIT & 1) != 0, (a >>> SEGMENT_G_BIT & 1) != 0, (a >>> SEGMENT_AVL_BIT & 1) != 0, !present);
    }

    /** The hypervisor has no "unusable" bit: an unusable segment is one not present. */
    static void putSegment(MemorySegment v, X86Segment g) {
        int a = (g.type() & SEGMENT_TYPE_MASK) | (g.s() ? 1 << SEGMENT_S_BIT : 0) | (g.dpl() & 3) << SEGMENT_DPL_SHIFT
                | (g.present() && !g.unusable() ? 1 << SEGMENT_P_BIT : 0) | (g.avl() ? 1 << SEGMENT_AVL_BIT : 0)
                | (g.l() ? 1 << SEGMENT_L_BIT : 0) | (g.db() ? 1 << SEGMENT_DB_BIT : 0) | (g.g() ? 1 << SEGMENT_G_BIT : 0);
        v.set(JAVA_LONG_UNALIGNED, SEGMENT_BASE, g.base());
        v.set(JAVA_INT_UNALIGNED, SEGMENT_LIMIT, g.limit());
        v.set(JAVA_SHORT_UNALIGNED, SEGMENT_SELECTOR, (short) g.selector());
        v.set(JAVA_SHORT_UNALIGNED, SEGMENT_ATTRIBUTES, (short) a);
    }

    private static X86DescriptorTable table(MemorySegment v) {
        return new X86DescriptorTable(v.get(JAVA_LONG_UNALIGNED, TABLE_BASE), Short.toUnsignedInt(v.get(JAVA_SHORT_UNALIGNED, TABLE_LIMIT)));
    }

    private static void putTable(MemorySegment v, X86DescriptorTable t) {
        v.set(JAVA_LONG_UNALIGNED, TABLE_BASE, t.base());
        v.set(JAVA_SHORT_UNALIGNED, TABLE_LIMIT, (short) t.limit());
    }

    /** The MSRs among {@code indices} the hypervisor names (see {@link #MSRS}), in one batch; others left out. */
    @Override
    public List<Msr> getMsrs(int... indices) {
        List<Integer> known = new ArrayList<>();
        for (int index : indices) {
            if (MSRS.containsKey(index)) {
                known.add(index);
            }
        }
        HvRegisterName[] names = known.stream().map(MSRS::get).toArray(HvRegisterName[]::new);
        MemorySegment v = get(names);
        List<Msr> out = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            out.add(new Msr(known.get(i), u64(v, i)));
        }
        return out;
    }

    @Override
    public void setMsrs(List<Msr> msrs) {
        HvRegisterName[] names = new HvRegisterName[msrs.size()];
        values.fill((byte) 0);
        for (int i = 0; i < names.length; i++) {
            Msr m = msrs.get(i);
            names[i] = MSRS.get(m.index());
            if (names[i] == null) {
                throw new HypervisorException(String.format("mshv: MSR 0x%x has no hypervisor register name this backend maps", m.index()));
            }
            values.set(JAVA_LONG_UNALIGNED, 16L * i, m.value());
        }
        set(names, values);
    }

    /**
     * What the hypervisor answers this VP for CPUID ({@code HVCALL_GET_VP_CPUID_VALUES}, in batches): the basic and
     * extended leaves and their subleaves, without the hypervisor's own leaves ({@link HypervisorCpuid}).
     */
    @Override
    public List<CpuidEntry> supportedCpuid() {
        return HypervisorCpuid.read(vp::getCpuidValues);
    }

    /** The table CPUID intercepts are answered from (the partition intercepts CPUID; see {@link InterceptHandler}). */
    @Override
    public void setCpuid(List<CpuidEntry> entries) {
        handler.setCpuid(entries);
    }

    /** XMM0-15, ST0-7 and the x87/SSE control and status registers, one batch. */
    @Override
    public X86Fpu getFpu() {
        MemorySegment v = get(FPU);
        byte[] xmm = v.asSlice(0, 16L * FPU_FP).toArray(JAVA_BYTE);
        byte[] fpr = v.asSlice(16L * FPU_FP, 16L * 8).toArray(JAVA_BYTE);
        MemorySegment c = v.asSlice(16L * FPU_CONTROL, 16);
        MemorySegment x = v.asSlice(16L * FPU_XMM_CONTROL, 16);
        return new X86Fpu(fpr, Short.toUnsignedInt(c.get(JAVA_SHORT_UNALIGNED, FP_CONTROL)),
                Short.toUnsignedInt(c.get(JAVA_SHORT_UNALIGNED, FP_STATUS)), Byte.toUnsignedInt(c.get(JAVA_BYTE, FP_TAG)),
                Short.toUnsignedInt(c.get(JAVA_SHORT_UNALIGNED, FP_LAST_OP)), c.get(JAVA_LONG_UNALIGNED, FP_LAST_RIP),
                x.get(JAVA_LONG_UNALIGNED, XMM_LAST_RDP), xmm, x.get(JAVA_INT_UNALIGNED, XMM_MXCSR));
    }

    /**
     * Sets the same registers in one batch (the descriptor splits it into hypercalls). The abridged tag word is
     * FXSAVE's 8 bits; the pointers are the long-mode forms; MXCSR_MASK, read-only, is written as 0.
     */
    @Override
    public void setFpu(X86Fpu fpu) {
        values.fill((byte) 0);
        MemorySegment.copy(MemorySegment.ofArray(fpu.xmm()), 0, values, 0, 16L * FPU_FP);
        MemorySegment.copy(MemorySegment.ofArray(fpu.fpr()), 0, values, 16L * FPU_FP, 16L * 8);
        MemorySegment c = values.asSlice(16L * FPU_CONTROL, 16);
        c.set(JAVA_SHORT_UNALIGNED, FP_CONTROL, (short) fpu.fcw());
        c.set(JAVA_SHORT_UNALIGNED, FP_STATUS, (short) fpu.fsw());
        c.set(JAVA_BYTE, FP_TAG, (byte) fpu.ftwx());
        c.set(JAVA_SHORT_UNALIGNED, FP_LAST_OP, (short) fpu.lastOpcode());
        c.set(JAVA_LONG_UNALIGNED, FP_LAST_RIP, fpu.lastIp());
        MemorySegment x = values.asSlice(16L * FPU_XMM_CONTROL, 16);
        x.set(JAVA_LONG_UNALIGNED, XMM_LAST_RDP, fpu.lastDp());
        x.set(JAVA_INT_UNALIGNED, XMM_MXCSR, fpu.mxcsr());
        set(FPU, values);
    }

    /**
     * {@code MSHV_GET_VP_STATE(MSHV_VP_STATE_LAPIC)} turned into the SPI's page ({@link LapicFormat}), with the TPR
     * from CR8.
     */
    @Override
    public LapicState getLapic() {
        vp.getState(MshvConstants.MSHV_VP_STATE_LAPIC, lapicState);
        return LapicFormat.toPage(lapicState, u64(get(CR8), 0));
    }

    /**
     * The page's registers into the hypervisor's state, read first so that what the page has no place for stays
     * as it was, then {@code MSHV_SET_VP_STATE(MSHV_VP_STATE_LAPIC)}; the TPR goes to CR8.
     */
    @Override
    public void setLapic(LapicState lapic) {
        vp.getState(MshvConstants.MSHV_VP_STATE_LAPIC, lapicState);
        LapicFormat.fromPage(lapic, lapicState);
        vp.setState(MshvConstants.MSHV_VP_STATE_LAPIC, lapicState);
        values.asSlice(0, 16).fill((byte) 0);
        values.set(JAVA_LONG_UNALIGNED, 0, LapicFormat.cr8(lapic));
        set(CR8, values);
    }

    /**
     * The MP state from {@code HV_REGISTER_INTERNAL_ACTIVITY_STATE}: waiting for a start-up IPI is
     * {@link MpState#UNINITIALIZED}, halted {@link MpState#HALTED}, neither {@link MpState#RUNNABLE}. The
     * hypervisor's idle suspend and reserved bits have no SPI state and are refused naming them.
     */
    @Override
    public MpState getMpState() {
        long a = u64(get(ACTIVITY), 0);
        if ((a & ~(STARTUP_SUSPEND | HALT_SUSPEND)) != 0) {
            throw new HypervisorException(String.format("mshv: the VP's internal activity state 0x%x (%s) has no MP state in the SPI",
                    a, (a & IDLE_SUSPEND) != 0 ? "idle suspend" : "reserved bits set"));
        }
        return (a & STARTUP_SUSPEND) != 0 ? MpState.UNINITIALIZED : (a & HALT_SUSPEND) != 0 ? MpState.HALTED : MpState.RUNNABLE;
    }

    /**
     * {@link MpState#RUNNABLE}, {@link MpState#UNINITIALIZED} (an application processor waiting for INIT and
     * SIPI, which the hypervisor's local APIC delivers) and {@link MpState#HALTED}, as
     * {@code HV_REGISTER_INTERNAL_ACTIVITY_STATE}. The states between INIT and SIPI, and the powered-off state
     * of other architectures, have no place in that register and are refused naming them.
     */
    @Override
    public void setMpState(MpState state) {
        long a = switch (state) {
            case RUNNABLE -> 0;
            case UNINITIALIZED -> STARTUP_SUSPEND;
            case HALTED -> HALT_SUSPEND;
            case INIT_RECEIVED, SIPI_RECEIVED, STOPPED -> throw new HypervisorException("mshv: MP state " + state
                    + " has no counterpart in the hypervisor's internal activity state (it takes runnable, waiting for a start-up IPI, halted)");
        };
        values.asSlice(0, 16).fill((byte) 0);
        values.set(JAVA_LONG_UNALIGNED, 0, a);
        set(ACTIVITY, values);
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            if (!closed) {
                closed = true;
                vp.close();
            }
        }
    }
}
