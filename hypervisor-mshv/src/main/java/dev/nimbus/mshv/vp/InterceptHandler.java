package dev.nimbus.mshv.vp;

import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.InstructionEmulator;
import dev.nimbus.hypervisor.x86.InstructionEmulator.CodeMode;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.HvRegisterName;
import dev.nimbus.mshv.fd.MshvVpFd;
import dev.nimbus.mshv.intercept.ApicEoi;
import dev.nimbus.mshv.intercept.CpuidIntercept;
import dev.nimbus.mshv.intercept.ExceptionIntercept;
import dev.nimbus.mshv.intercept.HaltIntercept;
import dev.nimbus.mshv.intercept.HvIntercept;
import dev.nimbus.mshv.intercept.InterceptHeader;
import dev.nimbus.mshv.intercept.IoPortIntercept;
import dev.nimbus.mshv.intercept.MemoryIntercept;
import dev.nimbus.mshv.intercept.MsrIntercept;
import dev.nimbus.mshv.intercept.UnrecoverableException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The VP run loop's middle: turns one intercept into the SPI's {@link VcpuExit} and, once the VMM has handled
 * that exit, completes the instruction the way the hypervisor leaves to user space (it never does for MSHV):
 * the registers written back in one batched {@code HVCALL_SET_VP_REGISTERS}, RIP past the instruction.
 *
 * <p>The contract is KVM's, so the VMM's {@code VcpuLoop} is the same for both: an I/O or MMIO exit is a view
 * answered with {@code respond}, and the answer reaches the guest with the next {@code run()}, which calls
 * {@link #resume()} first. Per kind:
 * <ul>
 *   <li>{@code in}/{@code out}: one access; for {@code in} the low bytes of RAX take the answer (a 32-bit one
 *       zero-extends RAX, as the CPU writes EAX).</li>
 *   <li>{@code ins}/{@code outs}, with REP: one exit for as many elements as lie in the page of the first
 *       (the SPI's {@code count}), moved through guest RAM at DS:rSI (a segment override honoured) or
 *       ES:rDI, stepping by DF, rCX counted down at the instruction's address size; RIP advances when rCX
 *       reaches zero, otherwise the guest executes the instruction again for the rest. Linear addresses are
 *       physical with paging off (real mode, or CR0.PG clear); with paging on they are the guest's virtual ones,
 *       translated by the hypervisor through the guest's page tables ({@code HVCALL_TRANSLATE_VIRTUAL_ADDRESS},
 *       checked for the write {@code ins} makes or the read {@code outs} makes, at the guest's privilege, the
 *       accessed and dirty bits set), one page per exit; an element that straddles a page end is moved alone, its
 *       bytes in both pages. A page the hypervisor will not translate (not present, a protection violation) is an
 *       internal error naming the address and its result code: the page fault the guest would take is not
 *       injected.</li>
 *   <li>MMIO (an unmapped or intercepted GPA): the instruction bytes go to the SPI's
 *       {@link InstructionEmulator} over the GPRs (read in one batch) and a memory view that turns each access
 *       into an exit: {@code MmioRead} or {@code MmioWrite}. The emulation is replayed from the start after each
 *       answered access, with the answers so far, until it needs none more (a read-modify-write is a read exit,
 *       then a write exit); only then are the changed registers, RFLAGS and RIP written back. A string
 *       instruction's addresses in the page of the intercept's GVA are the intercept's page (always the device's);
 *       in 64-bit mode, those in another page (the RAM side of a {@code movs}, a REP's next page) are translated by
 *       the hypervisor for the access, once per page and intercept, and where the result is RAM it is read or
 *       written there without an exit. An address that does not translate, or an access split by a page end,
 *       stops the REP before it (the CPU, executing the instruction again, faults there itself); on the first
 *       iteration the instruction is refused, the error naming the hypervisor's result code. At most 16 device
 *       accesses are made per intercept: beyond them the REP stops and the guest executes it again.</li>
 *   <li>{@code hlt}: {@link VcpuExit.Halt}.</li>
 *   <li>{@code HVMSG_X64_APIC_EOI} (the guest ended an interrupt asserted as level-triggered, which only the
 *       userspace IOAPIC's level pins are): {@link VcpuExit.IoapicEoi}, as KVM's split irqchip reports
 *       {@code KVM_EXIT_IOAPIC_EOI}; nothing to complete.</li>
 *   <li>CPUID: answered here, from the table {@link #setCpuid} was given, else the hypervisor's default
 *       answer from the message (and always its EBX of leaf 0xD subleaves 0 and 1, the XSAVE size for the
 *       guest's current XCR0 and XSS); no exit.</li>
 *   <li>{@code rdmsr}/{@code wrmsr} of an intercepted MSR: answered here, from what the guest wrote before (0
 *       at first); no exit.</li>
 *   <li>An intercepted exception, and {@code HVMSG_UNRECOVERABLE_EXCEPTION} (how the hypervisor reports a
 *       triple fault, among others; MSHV has no separate shutdown message, so this backend never returns
 *       {@link VcpuExit.Shutdown}): {@link VcpuExit.InternalError} with the intercept and a register dump.</li>
 * </ul>
 * One per VP, used on its thread only.
 */
public final class InterceptHandler {
    /** The general-purpose registers in the instruction encoding's order (the emulator's numbering). */
    static final HvRegisterName[] GPRS = {
        HvRegisterName.RAX, HvRegisterName.RCX, HvRegisterName.RDX, HvRegisterName.RBX, HvRegisterName.RSP,
        HvRegisterName.RBP, HvRegisterName.RSI, HvRegisterName.RDI, HvRegisterName.R8, HvRegisterName.R9,
        HvRegisterName.R10, HvRegisterName.R11, HvRegisterName.R12, HvRegisterName.R13, HvRegisterName.R14,
        HvRegisterName.R15};
    private static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7;
    private static final HvRegisterName[] DUMP = {
        HvRegisterName.RIP, HvRegisterName.RSP, HvRegisterName.RFLAGS, HvRegisterName.RAX, HvRegisterName.RBX,
        HvRegisterName.RCX, HvRegisterName.RDX, HvRegisterName.RSI, HvRegisterName.RDI, HvRegisterName.RBP,
        HvRegisterName.R8, HvRegisterName.R9, HvRegisterName.R10, HvRegisterName.R11, HvRegisterName.R12,
        HvRegisterName.R13, HvRegisterName.R14, HvRegisterName.R15, HvRegisterName.CR0, HvRegisterName.CR2,
        HvRegisterName.CR3, HvRegisterName.CR4, HvRegisterName.EFER};
    /** The exit of each vector's EOI, made once: an EOI needs nothing completed, so the exit is shared. */
    private static final VcpuExit.IoapicEoi[] EOIS = new VcpuExit.IoapicEoi[256];

    static {
        for (int v = 0; v < EOIS.length; v++) {
            EOIS[v] = new VcpuExit.IoapicEoi(v);
        }
    }

    private static final long PAGE = 4096;
    private static final long DF = 0x400;
    private static final long CR0_PG = 1L << 31;
    /** The accesses one memory intercept makes at most (each replays the emulation once). */
    static final int MAX_MMIO_ACCESSES = 16;

    private final MshvVpFd vp;
    private final InstructionEmulator emulator;
    private final GuestRam ram;
    private final MemorySegment values = Arena.ofAuto().allocate(16L * DUMP.length, 16);
    private final Map<Integer, Long> msrs = new HashMap<>();
    private List<CpuidEntry> cpuid = List.of();

    private final PortIn portIn = new PortIn();
    private final PortOut portOut = new PortOut();
    private final MmioRead mmioRead = new MmioRead();
    private final MmioWrite mmioWrite = new MmioWrite();

    /** What {@link #resume()} must finish: the exit last returned, and what it was about. */
    private enum Pending { NONE, PORT_IN, PORT_OUT, STRING_IN, STRING_OUT, MMIO }

    private Pending pending = Pending.NONE;
    private IoPortIntercept io;
    private StringIo string;
    private final Mmio mmio = new Mmio();

    /**
     * @param emulator the MMIO instruction emulator the arch platform supplied, or {@code null} (then a memory
     *                 intercept is an internal error saying so)
     */
    public InterceptHandler(MshvVpFd vp, InstructionEmulator emulator, GuestRam ram) {
        this.vp = vp;
        this.emulator = emulator;
        this.ram = ram;
    }

    /** The CPUID table the guest sees, for the CPUID intercepts ({@code X86Vcpu.setCpuid}). */
    public void setCpuid(List<CpuidEntry> entries) {
        cpuid = List.copyOf(entries);
    }

    /**
     * The exit {@code intercept} means for the VMM, or {@code null} when it was answered here and the VP may
     * run on (CPUID, MSR, a REP with nothing to do).
     */
    public VcpuExit handle(HvIntercept intercept) {
        pending = Pending.NONE;
        return switch (intercept) {
            case IoPortIntercept p -> p.string() ? stringIo(p) : portIo(p);
            case MemoryIntercept m -> memory(m);
            case HaltIntercept h -> VcpuExit.HALT;
            case CpuidIntercept c -> cpuid(c);
            case MsrIntercept m -> msr(m);
            case ExceptionIntercept e -> new VcpuExit.InternalError(String.format(
                    "mshv: exception intercept: vector %d%s, parameter 0x%x, at rip 0x%x (instruction %s)%n%s", e.vector(),
                    e.errorCode().isPresent() ? String.format(", error code 0x%x", e.errorCode().getAsInt()) : "",
                    e.parameter(), e.header().rip(), e.instruction(), dump()));
            case ApicEoi e -> EOIS[e.vector()];
            case UnrecoverableException u -> new VcpuExit.InternalError(String.format(
                    "mshv: HVMSG_UNRECOVERABLE_EXCEPTION (the guest cannot go on: a triple fault, among others) at rip 0x%x%n%s",
                    u.header().rip(), dump()));
        };
    }

    /**
     * Completes the exit last returned, with the VMM's answer, before the VP runs again. Returns the next exit
     * the same instruction needs without entering the guest (an MMIO read-modify-write's write), or
     * {@code null} when the VP may run.
     */
    public VcpuExit resume() {
        Pending p = pending;
        pending = Pending.NONE;
        return switch (p) {
            case NONE -> null;
            case PORT_OUT -> {
                setRegisters(new HvRegisterName[] {HvRegisterName.RIP}, io.header().nextRip());
                yield null;
            }
            case PORT_IN -> {
                long value = portIn.values[0];
                long rax = switch (io.size()) {
                    case 1 -> (io.rax() & ~0xffL) | (value & 0xff);
                    case 2 -> (io.rax() & ~0xffffL) | (value & 0xffff);
                    default -> value & 0xffff_ffffL;
                };
                setRegisters(new HvRegisterName[] {HvRegisterName.RAX, HvRegisterName.RIP}, rax, io.header().nextRip());
                yield null;
            }
            case STRING_OUT, STRING_IN -> {
                string.complete(p == Pending.STRING_IN);
                yield null;
            }
            case MMIO -> mmio.resume();
        };
    }

    // port I/O

    private VcpuExit portIo(IoPortIntercept p) {
        io = p;
        if (p.in()) {
            portIn.set(p.port(), p.size(), 1);
            pending = Pending.PORT_IN;
            return portIn;
        }
        portOut.set(p.port(), p.size(), 1);
        portOut.values[0] = p.rax() & mask(p.size());
        pending = Pending.PORT_OUT;
        return portOut;
    }

    /**
     * {@code ins}/{@code outs}: where this exit's elements are in guest RAM, how many it moves, and how to finish.
     * The elements lie in one guest page, so in one run of guest physical memory ({@code data}, lowest address
     * first), except an element that straddles the page end, which is alone and split between {@code data} (its
     * low bytes) and {@code tail}, since with paging the next page can be anywhere.
     */
    private final class StringIo {
        final IoPortIntercept p;
        final int addressSize;
        final boolean rep;
        final long step;
        final int count;
        final MemorySegment data;
        /** The guest physical address {@code data} starts at. */
        final long low;
        /** The first element's guest physical address. */
        final long first;
        /** The high bytes of a straddling element, or {@code null}. */
        final MemorySegment tail;

        StringIo(IoPortIntercept p, int addressSize, long step, int count, MemorySegment data, long low, long first,
                 MemorySegment tail) {
            this.p = p;
            this.addressSize = addressSize;
            this.rep = p.rep();
            this.step = step;
            this.count = count;
            this.data = data;
            this.low = low;
            this.first = first;
            this.tail = tail;
        }

        long load(int i) {
            if (tail != null) {
                int split = (int) data.byteSize();
                return InterceptHandler.load(data, 0, split) | InterceptHandler.load(tail, 0, p.size() - split) << (8 * split);
            }
            return InterceptHandler.load(data, first + i * step - low, p.size());
        }

        void store(int i, long value) {
            if (tail != null) {
                int split = (int) data.byteSize();
                InterceptHandler.store(data, 0, split, value);
                InterceptHandler.store(tail, 0, p.size() - split, value >>> (8 * split));
                return;
            }
            InterceptHandler.store(data, first + i * step - low, p.size(), value);
        }

        /** The registers after the elements moved; RIP past the instruction only when nothing is left. */
        void complete(boolean in) {
            if (in) {
                for (int i = 0; i < count; i++) {
                    store(i, portIn.values[i]);
                }
            }
            long moved = count * step;
            int index = in ? RDI : RSI;
            long pointer = withAddressSize(in ? p.rdi() : p.rsi(), (in ? p.rdi() : p.rsi()) + moved, addressSize);
            long rcx = rep ? withAddressSize(p.rcx(), (p.rcx() & mask(addressSize)) - count, addressSize) : p.rcx();
            boolean done = !rep || (rcx & mask(addressSize)) == 0;
            setRegisters(new HvRegisterName[] {GPRS[index], HvRegisterName.RCX, HvRegisterName.RIP}, pointer, rcx,
                    done ? p.header().nextRip() : p.header().rip());
        }
    }

    private VcpuExit stringIo(IoPortIntercept p) {
        InterceptHeader h = p.header();
        CodeMode mode = mode(h);
        Prefixes prefixes = Prefixes.of(p.instruction().toArray(), mode);
        int addressSize = switch (mode) {
            case LONG_64 -> prefixes.addressOverride ? 4 : 8;
            case PROTECTED_32 -> prefixes.addressOverride ? 2 : 4;
            case PROTECTED_16 -> prefixes.addressOverride ? 4 : 2;
        };
        boolean in = p.in();
        long amask = mask(addressSize);
        long count = p.rep() ? p.rcx() & amask : 1;
        if (count == 0) {
            setRegisters(new HvRegisterName[] {HvRegisterName.RIP}, h.nextRip());
            return null;
        }
        long offset = (in ? p.rdi() : p.rsi()) & amask;
        long base;
        if (in || prefixes.segment == 0 || prefixes.segment == 0x3e || prefixes.segment == 0x26) {
            base = mode == CodeMode.LONG_64 ? 0 : (in || prefixes.segment == 0x26 ? p.es() : p.ds()).base();
        } else {
            return new VcpuExit.InternalError(String.format(
                    "mshv: outs with segment override %02x at rip 0x%x: the intercept carries only DS and ES (instruction %s)",
                    prefixes.segment, h.rip(), p.instruction()));
        }
        long linear = base + offset;
        if (mode != CodeMode.LONG_64) {
            linear &= 0xffff_ffffL; // outside 64-bit mode a linear address wraps at 4 GiB
        }
        int size = p.size();
        long step = (h.rflags() & DF) != 0 ? -size : size;
        long pageOffset = linear & (PAGE - 1);
        boolean straddles = pageOffset + size > PAGE;
        long inPage = step > 0 ? (PAGE - pageOffset) / size : pageOffset / size + 1;
        int n = straddles ? 1 : (int) Math.min(count, inPage);
        // with paging on, the address is the guest's virtual one: its page tables, walked by the hypervisor, say
        // where the page is (ins writes guest memory, outs reads it; checked at the guest's privilege, the
        // accessed and dirty bits set as the CPU's own access would)
        boolean paged = h.protectedMode() && (register(HvRegisterName.CR0) & CR0_PG) != 0;
        long flags = (in ? HvConstants.HV_TRANSLATE_GVA_VALIDATE_WRITE : HvConstants.HV_TRANSLATE_GVA_VALIDATE_READ)
                | HvConstants.HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS;
        long first = linear;
        if (paged) {
            MshvVpFd.GvaTranslation t = vp.translateVirtualAddress(linear, flags);
            if (!t.success()) {
                return untranslated(in ? "ins" : "outs", h.rip(), linear, in, t);
            }
            first = t.gpa();
        }
        MemorySegment tail = null;
        long split = PAGE - pageOffset;
        if (straddles) {
            long next = mode == CodeMode.LONG_64 ? linear + split : (linear + split) & 0xffff_ffffL;
            long nextGpa = next;
            if (paged) {
                MshvVpFd.GvaTranslation t = vp.translateVirtualAddress(next, flags);
                if (!t.success()) {
                    return untranslated(in ? "ins" : "outs", h.rip(), next, in, t);
                }
                nextGpa = t.gpa();
            }
            tail = ram.at(nextGpa, size - split);
            if (tail == null) {
                return notRam(in, h, size - split, nextGpa);
            }
        }
        long low = straddles || step > 0 ? first : first + (n - 1) * step;
        MemorySegment data = ram.at(low, straddles ? split : (long) n * size);
        if (data == null) {
            return notRam(in, h, straddles ? split : (long) n * size, low);
        }
        io = p;
        string = new StringIo(p, addressSize, step, n, data, low, first, tail);
        if (in) {
            portIn.set(p.port(), size, n);
            pending = Pending.STRING_IN;
            return portIn;
        }
        portOut.set(p.port(), size, n);
        for (int i = 0; i < n; i++) {
            portOut.values[i] = string.load(i);
        }
        pending = Pending.STRING_OUT;
        return portOut;
    }

    private static VcpuExit notRam(boolean in, InterceptHeader h, long bytes, long gpa) {
        return new VcpuExit.InternalError(String.format(
                "mshv: %s at rip 0x%x moves %d bytes at guest address 0x%x, which is not RAM", in ? "ins" : "outs", h.rip(),
                bytes, gpa));
    }

    /**
     * A guest virtual address the hypervisor would not translate for the access. On hardware the guest takes a
     * page fault there; this backend does not inject one, so the VM ends naming the address and the result.
     */
    private VcpuExit untranslated(String what, long rip, long gva, boolean write, MshvVpFd.GvaTranslation t) {
        return new VcpuExit.InternalError(String.format(
                "mshv: %s at rip 0x%x: guest virtual address 0x%x does not translate for a %s: HVCALL_TRANSLATE_VIRTUAL_ADDRESS "
                        + "answered %s (the guest would take a page fault, which this backend does not inject)%n%s",
                what, rip, gva, write ? "write" : "read", t.resultName(), dump()));
    }

    /** The prefixes of an instruction that matter to {@code ins}/{@code outs}: address size and segment. */
    private record Prefixes(boolean addressOverride, int segment) {
        static Prefixes of(byte[] bytes, CodeMode mode) {
            boolean address = false;
            int segment = 0;
            for (byte value : bytes) {
                int b = value & 0xff;
                switch (b) {
                    case 0x67 -> address = true;
                    case 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 -> segment = b;
                    case 0x66, 0xf0, 0xf2, 0xf3 -> { }
                    default -> {
                        if (mode == CodeMode.LONG_64 && (b & 0xf0) == 0x40) {
                            continue;
                        }
                        return new Prefixes(address, segment);
                    }
                }
            }
            return new Prefixes(address, segment);
        }
    }

    // MMIO

    /**
     * One memory intercept being emulated: the GPRs as they were, the accesses answered so far, and the view
     * the emulator works on (a fresh copy of the registers each attempt).
     */
    private final class Mmio implements InstructionEmulator.Memory, InstructionEmulator.Registers {
        private MemoryIntercept m;
        private CodeMode mode;
        private final long[] original = new long[16];
        private final long[] gprs = new long[16];
        private long rip;
        private long rflags;
        private final long[] answers = new long[MAX_MMIO_ACCESSES];
        private int answered;
        private int accesses;
        /** The pages translated for this intercept (there are at most a few: each access stays in one page). */
        private final long[] translatedGva = new long[4];
        private final boolean[] translatedWrite = new boolean[4];
        private final long[] translatedGpa = new long[4];
        private int translations;
        /** The first translation the hypervisor refused, for the error if the emulator then refuses. */
        private String failure;

        VcpuExit start(MemoryIntercept intercept) {
            m = intercept;
            mode = mode(intercept.header());
            vp.getRegisters(GPRS, values);
            for (int i = 0; i < 16; i++) {
                original[i] = values.get(JAVA_LONG_UNALIGNED, 16L * i);
            }
            answered = 0;
            translations = 0;
            failure = null;
            return attempt();
        }

        VcpuExit resume() {
            answered++;
            return attempt();
        }

        private VcpuExit attempt() {
            System.arraycopy(original, 0, gprs, 0, 16);
            rip = m.header().rip();
            rflags = m.header().rflags();
            accesses = 0;
            byte[] bytes = m.instruction().toArray();
            InstructionEmulator.Outcome outcome;
            try {
                outcome = emulator.emulate(bytes, bytes.length, mode, this, m.gpa(), this);
            } catch (NeedsExit e) {
                pending = Pending.MMIO;
                return e.exit;
            }
            return switch (outcome) {
                case InstructionEmulator.Outcome.Emulated ignored -> {
                    writeBack();
                    yield null;
                }
                case InstructionEmulator.Outcome.CannotEmulate c -> new VcpuExit.InternalError("mshv: " + c.message()
                        + (failure != null ? " (" + failure + ")" : "") + "\n" + dump());
            };
        }

        private void writeBack() {
            int changed = 0;
            for (int i = 0; i < 16; i++) {
                if (gprs[i] != original[i]) {
                    changed++;
                }
            }
            HvRegisterName[] names = new HvRegisterName[changed + 2];
            long[] v = new long[changed + 2];
            int k = 0;
            for (int i = 0; i < 16; i++) {
                if (gprs[i] != original[i]) {
                    names[k] = GPRS[i];
                    v[k++] = gprs[i];
                }
            }
            names[k] = HvRegisterName.RFLAGS;
            v[k++] = rflags;
            names[k] = HvRegisterName.RIP;
            v[k] = rip;
            setRegisters(names, v);
        }

        /**
         * Guest RAM at {@code gpa}, or {@code null} for the device side: the intercept's own page is always the
         * device's (also where it is RAM mapped read-only, a {@code HVMSG_GPA_INTERCEPT}); another page is RAM where
         * a region has it (the hypervisor translated it for this very access, its permission checked).
         */
        private MemorySegment ramAt(long gpa, int size) {
            return (gpa & ~(PAGE - 1)) == (m.gpa() & ~(PAGE - 1)) ? null : ram.at(gpa, size);
        }

        @Override
        public long read(long gpa, int size) {
            MemorySegment r = ramAt(gpa, size);
            if (r != null) {
                return InterceptHandler.load(r, 0, size);
            }
            int index = accesses++;
            if (index < answered) {
                return answers[index] & mask(size);
            }
            mmioRead.set(gpa, size, index);
            throw new NeedsExit(mmioRead);
        }

        @Override
        public void write(long gpa, int size, long value) {
            MemorySegment r = ramAt(gpa, size);
            if (r != null) {
                InterceptHandler.store(r, 0, size, value); // again on each replay: the same value, RAM's only side
                return;
            }
            int index = accesses++;
            if (index < answered) {
                return; // delivered before this replay
            }
            mmioWrite.set(gpa, size, value & mask(size));
            throw new NeedsExit(mmioWrite);
        }

        @Override
        public long translate(int segment, long offset, int size, boolean write) {
            if (accesses >= MAX_MMIO_ACCESSES || mode != CodeMode.LONG_64
                    || segment == InstructionEmulator.Memory.FS || segment == InstructionEmulator.Memory.GS) {
                return -1;
            }
            long linear = offset; // 64-bit mode: ES, CS, SS and DS have base 0
            if ((linear & (PAGE - 1)) + size > PAGE) {
                return -1; // the access would be split between two pages: one guest physical address cannot say it
            }
            long page = linear & ~(PAGE - 1);
            if (m.gvaValid() && page == (m.gva() & ~(PAGE - 1))) {
                return (m.gpa() & ~(PAGE - 1)) | (linear & (PAGE - 1));
            }
            // another page (the RAM side of a movs, or a REP's next page): 64-bit mode always pages, so through the
            // guest's page tables; a refusal stops the REP there, where the CPU, executing it again, faults itself
            long gpaPage = translatedPage(page, write);
            return gpaPage == -1 ? -1 : gpaPage | (linear & (PAGE - 1));
        }

        /**
         * The guest physical page of guest virtual {@code page} for a read or a write, from the hypervisor once per
         * intercept (the emulation is replayed after every access); -1, the failure kept for the error message, when
         * it would not translate.
         */
        private long translatedPage(long page, boolean write) {
            for (int i = 0; i < translations; i++) {
                if (translatedGva[i] == page && translatedWrite[i] == write) {
                    return translatedGpa[i];
                }
            }
            MshvVpFd.GvaTranslation t = vp.translateVirtualAddress(page, (write ? HvConstants.HV_TRANSLATE_GVA_VALIDATE_WRITE
                    : HvConstants.HV_TRANSLATE_GVA_VALIDATE_READ) | HvConstants.HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS);
            long gpa = t.success() ? t.gpa() : -1;
            if (!t.success() && failure == null) {
                failure = String.format("HVCALL_TRANSLATE_VIRTUAL_ADDRESS of guest virtual 0x%x for a %s answered %s", page,
                        write ? "write" : "read", t.resultName());
            }
            if (translations < translatedGva.length) {
                translatedGva[translations] = page;
                translatedWrite[translations] = write;
                translatedGpa[translations++] = gpa;
            }
            return gpa;
        }

        void answer(int index, long value) {
            answers[index] = value;
        }

        @Override
        public long gpr(int index) {
            return gprs[index];
        }

        @Override
        public void setGpr(int index, long value) {
            gprs[index] = value;
        }

        @Override
        public long rip() {
            return rip;
        }

        @Override
        public void setRip(long value) {
            rip = value;
        }

        @Override
        public long rflags() {
            return rflags;
        }

        @Override
        public void setRflags(long value) {
            rflags = value;
        }
    }

    /** Thrown through the emulator when it needs an access the VMM has not answered yet; carries the exit. */
    private static final class NeedsExit extends RuntimeException {
        final VcpuExit exit;

        NeedsExit(VcpuExit exit) {
            super(null, null, false, false);
            this.exit = exit;
        }
    }

    private VcpuExit memory(MemoryIntercept m) {
        if (emulator == null) {
            return new VcpuExit.InternalError(String.format(
                    "mshv: MMIO at guest address 0x%x (rip 0x%x, instruction %s) needs an instruction emulator, and the arch "
                            + "platform supplied none (VmOptions.instructionEmulator)", m.gpa(), m.header().rip(), m.instruction()));
        }
        return mmio.start(m);
    }

    // CPUID and MSRs

    private VcpuExit cpuid(CpuidIntercept c) {
        int leaf = (int) c.rax();
        int subleaf = (int) c.rcx();
        long eax = c.defaultRax(), ebx = c.defaultRbx(), ecx = c.defaultRcx(), edx = c.defaultRdx();
        for (CpuidEntry e : cpuid) {
            if (e.function() == leaf && (!e.indexed() || e.index() == subleaf)) {
                eax = e.eax();
                // leaf 0xD's EBX in subleaves 0 and 1 is the XSAVE area's size for the XCR0 (and XSS) the guest has
                // set by now, which a table made at boot cannot know (KVM updates it); the hypervisor's answer does
                ebx = leaf == 0xd && (subleaf == 0 || subleaf == 1) ? c.defaultRbx() : e.ebx();
                ecx = e.ecx();
                edx = e.edx();
                break;
            }
        }
        setRegisters(new HvRegisterName[] {HvRegisterName.RAX, HvRegisterName.RBX, HvRegisterName.RCX, HvRegisterName.RDX,
                HvRegisterName.RIP}, eax & 0xffff_ffffL, ebx & 0xffff_ffffL, ecx & 0xffff_ffffL, edx & 0xffff_ffffL,
                c.header().nextRip());
        return null;
    }

    private VcpuExit msr(MsrIntercept m) {
        if (m.write()) {
            msrs.put(m.msr(), m.value());
            setRegisters(new HvRegisterName[] {HvRegisterName.RIP}, m.header().nextRip());
        } else {
            long value = msrs.getOrDefault(m.msr(), 0L);
            setRegisters(new HvRegisterName[] {HvRegisterName.RAX, HvRegisterName.RDX, HvRegisterName.RIP},
                    value & 0xffff_ffffL, value >>> 32, m.header().nextRip());
        }
        return null;
    }

    // registers

    private void setRegisters(HvRegisterName[] names, long... v) {
        values.fill((byte) 0);
        for (int i = 0; i < names.length; i++) {
            values.set(JAVA_LONG_UNALIGNED, 16L * i, v[i]);
        }
        vp.setRegisters(names, values.asSlice(0, 16L * names.length));
    }

    private long register(HvRegisterName name) {
        vp.getRegisters(new HvRegisterName[] {name}, values);
        return values.get(JAVA_LONG_UNALIGNED, 0);
    }

    /** The registers as the few lines a fatal exit ends with (as KVM's internal errors get from the arch dump). */
    String dump() {
        try {
            vp.getRegisters(DUMP, values);
            long[] r = new long[DUMP.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = values.get(JAVA_LONG_UNALIGNED, 16L * i);
            }
            return String.format("""
                    VP %d:
                      RIP=%016x RSP=%016x RFLAGS=%08x
                      RAX=%016x RBX=%016x RCX=%016x RDX=%016x
                      RSI=%016x RDI=%016x RBP=%016x
                      R8 =%016x R9 =%016x R10=%016x R11=%016x
                      R12=%016x R13=%016x R14=%016x R15=%016x
                      CR0=%08x CR2=%016x CR3=%016x CR4=%08x EFER=%x""", vp.index(), r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                    r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17], r[18], r[19], r[20], r[21], r[22]);
        } catch (RuntimeException e) {
            return "VP " + vp.index() + ": registers cannot be read (" + e.getMessage() + ")";
        }
    }

    static CodeMode mode(InterceptHeader h) {
        if (!h.protectedMode()) {
            return CodeMode.PROTECTED_16;
        }
        return CodeMode.of(h.longModeActive(), h.cs().longMode(), h.cs().defaultBig());
    }

    private static long mask(int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** A register written at the address size: 16 bits merge, 32 zero-extend, 64 replace. */
    private static long withAddressSize(long old, long value, int size) {
        return switch (size) {
            case 2 -> (old & ~0xffffL) | (value & 0xffff);
            case 4 -> value & 0xffff_ffffL;
            default -> value;
        };
    }

    private static long load(MemorySegment s, long at, int size) {
        long v = 0;
        for (int b = 0; b < size; b++) {
            v |= (long) (s.get(JAVA_BYTE, at + b) & 0xff) << (8 * b);
        }
        return v;
    }

    private static void store(MemorySegment s, long at, int size, long value) {
        for (int b = 0; b < size; b++) {
            s.set(JAVA_BYTE, at + b, (byte) (value >>> (8 * b)));
        }
    }

    // the exit views, one of each per VP, valid until the next run()

    private static final class PortIn implements VcpuExit.IoIn {
        final long[] values = new long[(int) PAGE];
        private int port;
        private int size;
        private int count;

        void set(int port, int size, int count) {
            this.port = port;
            this.size = size;
            this.count = count;
            java.util.Arrays.fill(values, 0, count, 0);
        }

        @Override
        public int port() {
            return port;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public int count() {
            return count;
        }

        @Override
        public void respond(int index, long value) {
            values[java.util.Objects.checkIndex(index, count)] = value & mask(size);
        }
    }

    private static final class PortOut implements VcpuExit.IoOut {
        final long[] values = new long[(int) PAGE];
        private int port;
        private int size;
        private int count;

        void set(int port, int size, int count) {
            this.port = port;
            this.size = size;
            this.count = count;
        }

        @Override
        public int port() {
            return port;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public int count() {
            return count;
        }

        @Override
        public long value(int index) {
            return values[java.util.Objects.checkIndex(index, count)];
        }
    }

    private final class MmioRead implements VcpuExit.MmioRead {
        private long address;
        private int size;
        private int index;

        void set(long address, int size, int index) {
            this.address = address;
            this.size = size;
            this.index = index;
            mmio.answer(index, 0);
        }

        @Override
        public long address() {
            return address;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public void respond(long value) {
            mmio.answer(index, value & mask(size));
        }
    }

    private static final class MmioWrite implements VcpuExit.MmioWrite {
        private long address;
        private int size;
        private long value;

        void set(long address, int size, long value) {
            this.address = address;
            this.size = size;
            this.value = value;
        }

        @Override
        public long address() {
            return address;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public long value() {
            return value;
        }
    }
}
