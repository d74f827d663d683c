package dev.nimbus.mshv.vp;

import dev.nimbus.arch.x86_64.X86_64Platform;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.HvRegisterName;
import dev.nimbus.mshv.abi.MshvIoctls;
import dev.nimbus.mshv.fd.KernelStandIn;
import dev.nimbus.mshv.intercept.MessageBuilder;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.nimbus.mshv.abi.HvConstants.*;
import static dev.nimbus.mshv.abi.HvStructs.*;
import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The VP run loop's handling of each intercept: the exit the VMM sees, and what goes back to the hypervisor
 * once the VMM answered (the {@code HVCALL_SET_VP_REGISTERS} input, read back here by register name).
 *
 * <p>No machine here has /dev/mshv, so both ends are stand-ins, as the issue allows at this layer only: the
 * messages are built by {@link MessageBuilder} through the header-checked layouts, and the descriptor is a
 * {@link KernelStandIn} that records every hypercall and answers {@code HVCALL_GET_VP_REGISTERS} from
 * {@link KernelStandIn#registers}. The MMIO tests run the real x86-64 emulator, as the x86-64 platform hands it
 * over ({@code X86_64Platform.vmOptions()}). Guest instructions are real encodings.
 */
class InterceptHandlerTest {
    static final long RIP = 0xffff_ffff_8100_0000L;

    final KernelStandIn kernel = new KernelStandIn();
    final MemorySegment ram = Arena.ofAuto().allocate(0x4000, 4096);
    /** Guest RAM at guest physical 0 to 0x4000. */
    final GuestRam guestRam = (gpa, size) -> gpa >= 0 && gpa + size <= ram.byteSize() ? ram.asSlice(gpa, size) : null;
    final InterceptHandler handler = new InterceptHandler(kernel.vp(1),
            new X86_64Platform().vmOptions().emulator().orElseThrow(), guestRam);

    /** Every register the handler set, in order, by name, over all SET_VP_REGISTERS calls so far. */
    private Map<HvRegisterName, Long> written() {
        Map<HvRegisterName, Long> m = new LinkedHashMap<>();
        for (KernelStandIn.Call c : kernel.calls) {
            if (c.request() != MshvIoctls.MSHV_ROOT_HVCALL
                    || Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE)) != HvConstants.HVCALL_SET_VP_REGISTERS) {
                continue;
            }
            MemorySegment in = c.input();
            assertThat(in.get(JAVA_INT_UNALIGNED, VP_REGISTERS_VP_INDEX)).as("the VP's index").isEqualTo(1);
            for (long e = VP_REGISTERS_ELEMENTS; e < in.byteSize(); e += HV_REGISTER_ASSOC.byteSize()) {
                int name = in.get(JAVA_INT_UNALIGNED, e + REGISTER_ASSOC_NAME);
                HvRegisterName n = java.util.Arrays.stream(HvRegisterName.values()).filter(r -> r.value() == name).findFirst().orElseThrow();
                m.put(n, in.get(JAVA_LONG_UNALIGNED, e + REGISTER_ASSOC_VALUE));
            }
        }
        return m;
    }

    private long setCalls() {
        return kernel.calls.stream().filter(c -> c.request() == MshvIoctls.MSHV_ROOT_HVCALL
                && Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE)) == HvConstants.HVCALL_SET_VP_REGISTERS).count();
    }

    private static MessageBuilder io(int access, int length, int port, int info) {
        return new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT).header(access, RIP, length).u16(IO_PORT_NUMBER, port).u8(IO_ACCESS_INFO, info);
    }

    /** Real mode: CR0.PE clear, CS a 16-bit segment. */
    private static MessageBuilder realMode(MessageBuilder b) {
        return b.u16(INTERCEPT_EXECUTION_STATE, 0).segment(INTERCEPT_CS, 0xf0000, 0xf000, 0x93);
    }

    /** 32-bit protected mode without long mode: CR0.PE set, CS with D set. */
    private static MessageBuilder protected32(MessageBuilder b) {
        return b.u16(INTERCEPT_EXECUTION_STATE, 1 << EXECUTION_STATE_CR0_PE_BIT)
                .segment(INTERCEPT_CS, 0, 0x10, 0xb | 1 << SEGMENT_S_BIT | 1 << SEGMENT_P_BIT | 1 << SEGMENT_DB_BIT | 1 << SEGMENT_G_BIT);
    }

    // in and out

    @Test
    void outHandsTheLowBytesOfRaxToTheVmmAndTheNextRunAdvancesRip() {
        VcpuExit exit = handler.handle(io(HV_INTERCEPT_ACCESS_WRITE, 1, 0x3f8, 1).u64(IO_RAX, 0x1234_5641)
                .bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xee).decode()); // out dx, al

        VcpuExit.IoOut out = (VcpuExit.IoOut) exit;
        assertThat(new long[] {out.port(), out.size(), out.count(), out.value()}).containsExactly(0x3f8, 1, 1, 0x41);
        assertThat(kernel.calls).as("nothing goes back before the VMM handled the exit").isEmpty();
        assertThat(handler.resume()).isNull();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RIP, RIP + 1));
        assertThat(setCalls()).as("one batch").isEqualTo(1);
    }

    @Test
    void inOfAByteMergesTheAnswerIntoAl() {
        VcpuExit.IoIn in = (VcpuExit.IoIn) handler.handle(io(HV_INTERCEPT_ACCESS_READ, 1, 0x3fd, 1).u64(IO_RAX, -1L).decode()); // in al, dx
        in.respond(0x1_5a);
        assertThat(handler.resume()).isNull();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RAX, 0xffff_ffff_ffff_ff5aL), Map.entry(HvRegisterName.RIP, RIP + 1));
    }

    @Test
    void inOfADwordZeroExtendsRaxAsTheCpuWritesEax() {
        VcpuExit.IoIn in = (VcpuExit.IoIn) handler.handle(io(HV_INTERCEPT_ACCESS_READ, 1, 0xcfc, 4).u64(IO_RAX, -1L).decode()); // in eax, dx
        in.respond(0x1234_5678);
        handler.resume();
        assertThat(written()).containsEntry(HvRegisterName.RAX, 0x1234_5678L);
    }

    @Test
    void inOfAWordKeepsTheRestOfRax() {
        VcpuExit.IoIn in = (VcpuExit.IoIn) handler.handle(io(HV_INTERCEPT_ACCESS_READ, 2, 0x1f0, 2).u64(IO_RAX, 0xaaaa_bbbb_cccc_ddddL).decode());
        in.respond(0x1234);
        handler.resume();
        assertThat(written()).containsEntry(HvRegisterName.RAX, 0xaaaa_bbbb_cccc_1234L).containsEntry(HvRegisterName.RIP, RIP + 2);
    }

    // ins and outs

    @Test
    void repOutsbInRealModeHandsTheBytesAtDsSiToTheVmmInOneExit() {
        ram.asSlice(0x1020, 3).copyFrom(MemorySegment.ofArray("abc".getBytes()));
        VcpuExit.IoOut out = (VcpuExit.IoOut) handler.handle(realMode(io(HV_INTERCEPT_ACCESS_WRITE, 2, 0x3f8,
                1 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)).u64(IO_RCX, 0xdead_0003L).u64(IO_RSI, 0xbeef_0020L)
                .segment(IO_DS, 0x1000, 0x100, 0x93).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x6e).decode()); // rep outsb

        assertThat(out.count()).isEqualTo(3);
        assertThat(new long[] {out.value(0), out.value(1), out.value(2)}).containsExactly('a', 'b', 'c');
        assertThat(handler.resume()).isNull();
        // 16-bit address size: SI and CX change, the upper bits stay
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RSI, 0xbeef_0023L), Map.entry(HvRegisterName.RCX, 0xdead_0000L),
                Map.entry(HvRegisterName.RIP, RIP + 2));
    }

    @Test
    void repInswWithTheDirectionFlagFillsDownwardAtEsDi() {
        kernel.registers.put(HvRegisterName.CR0.value(), 0x11L); // PE, ET: paging off
        VcpuExit.IoIn in = (VcpuExit.IoIn) handler.handle(protected32(io(HV_INTERCEPT_ACCESS_READ, 3, 0x1f0,
                2 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)).u64(INTERCEPT_RFLAGS, 0x2 | 0x400).u64(IO_RCX, 2)
                .u64(IO_RDI, 0x2004).segment(IO_ES, 0, 0x18, 0x93)
                .bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x66, 0x6d).decode()); // rep insw, DF set

        assertThat(new int[] {in.port(), in.size(), in.count()}).containsExactly(0x1f0, 2, 2);
        in.respond(0, 0x1111);
        in.respond(1, 0x2233);
        assertThat(handler.resume()).isNull();
        assertThat(ram.asSlice(0x2002, 4).toArray(JAVA_BYTE)).containsExactly(0x33, 0x22, 0x11, 0x11);
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RDI, 0x2000L), Map.entry(HvRegisterName.RCX, 0L),
                Map.entry(HvRegisterName.RIP, RIP + 3));
    }

    @Test
    void aRepOutsThatRunsPastItsPageStopsThereAndTheGuestExecutesItAgain() {
        VcpuExit.IoOut out = (VcpuExit.IoOut) handler.handle(realMode(io(HV_INTERCEPT_ACCESS_WRITE, 2, 0x3f8,
                1 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)).u64(IO_RCX, 5).u64(IO_RSI, 0xffe)
                .segment(IO_DS, 0, 0, 0x93).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x6e).decode());

        assertThat(out.count()).isEqualTo(2);
        handler.resume();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RSI, 0x1000L), Map.entry(HvRegisterName.RCX, 3L),
                Map.entry(HvRegisterName.RIP, RIP));
    }

    // ins and outs with paging on: guest-virtual addresses, translated by the hypervisor

    static final long PAGING_ON = 0x8000_0011L; // CR0: PG, ET, PE

    /** The translate hypercalls made so far: {gva_page, control_flags} each, after checking the VP index. */
    private List<long[]> translations() {
        return kernel.calls.stream().filter(c -> c.request() == MshvIoctls.MSHV_ROOT_HVCALL
                        && Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE)) == HVCALL_TRANSLATE_VIRTUAL_ADDRESS)
                .map(c -> {
                    assertThat(c.input().byteSize()).isEqualTo(HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS.byteSize());
                    assertThat(c.input().get(JAVA_INT_UNALIGNED, TRANSLATE_VP_INDEX)).as("the VP's index").isEqualTo(1);
                    assertThat(Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_OUT_SZ)))
                            .isEqualTo((int) HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS.byteSize());
                    return new long[] {c.input().get(JAVA_LONG_UNALIGNED, TRANSLATE_GVA_PAGE),
                            c.input().get(JAVA_LONG_UNALIGNED, TRANSLATE_CONTROL_FLAGS)};
                }).toList();
    }

    /** A 64-bit {@code rep outsb} (f3 6e) from RSI, RCX bytes, to the serial port. */
    private VcpuExit repOutsb(long rsi, long rcx) {
        return handler.handle(io(HV_INTERCEPT_ACCESS_WRITE, 2, 0x3f8, 1 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)
                .u64(IO_RCX, rcx).u64(IO_RSI, rsi).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x6e).decode());
    }

    private static long[] values(VcpuExit.IoOut out) {
        long[] v = new long[out.count()];
        for (int i = 0; i < v.length; i++) {
            v[i] = out.value(i);
        }
        return v;
    }

    @Test
    void repOutsbFromAVirtualBufferAcrossAPageEndHandsItsBytesInOrderPageByPage() {
        kernel.registers.put(HvRegisterName.CR0.value(), PAGING_ON);
        // the buffer's two virtual pages lie in guest physical pages 3 and 1, the other way round
        kernel.pageTable.put(0x7000_0L, 3L);
        kernel.pageTable.put(0x7000_1L, 1L);
        ram.asSlice(0x3ffd, 3).copyFrom(MemorySegment.ofArray("abc".getBytes()));
        ram.asSlice(0x1000, 3).copyFrom(MemorySegment.ofArray("def".getBytes()));

        VcpuExit.IoOut out = (VcpuExit.IoOut) repOutsb(0x7000_0ffdL, 6);
        assertThat(values(out)).containsExactly('a', 'b', 'c');
        assertThat(translations()).singleElement().satisfies(t -> assertThat(t).containsExactly(0x7000_0L,
                HV_TRANSLATE_GVA_VALIDATE_READ | HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS));
        assertThat(handler.resume()).isNull();
        assertThat(written()).as("the page's elements moved; the guest executes the instruction again for the rest")
                .containsExactly(Map.entry(HvRegisterName.RSI, 0x7000_1000L), Map.entry(HvRegisterName.RCX, 3L), Map.entry(HvRegisterName.RIP, RIP));

        kernel.calls.clear();
        out = (VcpuExit.IoOut) repOutsb(0x7000_1000L, 3);
        assertThat(values(out)).containsExactly('d', 'e', 'f');
        assertThat(handler.resume()).isNull();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RSI, 0x7000_1003L), Map.entry(HvRegisterName.RCX, 0L),
                Map.entry(HvRegisterName.RIP, RIP + 2));
    }

    @Test
    void repInsbIntoAVirtualBufferWritesThroughTheGuestsPageTablesPageByPage() {
        kernel.registers.put(HvRegisterName.CR0.value(), PAGING_ON);
        kernel.pageTable.put(0x7000_1L, 2L);
        kernel.pageTable.put(0x7000_2L, 1L);
        VcpuExit.IoIn in = (VcpuExit.IoIn) handler.handle(io(HV_INTERCEPT_ACCESS_READ, 2, 0x1f0,
                1 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT).u64(IO_RCX, 3).u64(IO_RDI, 0x7000_1ffeL)
                .bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x6c).decode()); // rep insb

        assertThat(new int[] {in.port(), in.size(), in.count()}).containsExactly(0x1f0, 1, 2);
        assertThat(translations()).singleElement().satisfies(t -> assertThat(t).containsExactly(0x7000_1L,
                HV_TRANSLATE_GVA_VALIDATE_WRITE | HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS));
        in.respond(0, 0x11);
        in.respond(1, 0x22);
        assertThat(handler.resume()).isNull();
        assertThat(ram.asSlice(0x2ffe, 2).toArray(JAVA_BYTE)).containsExactly(0x11, 0x22);
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RDI, 0x7000_2000L), Map.entry(HvRegisterName.RCX, 1L),
                Map.entry(HvRegisterName.RIP, RIP));

        kernel.calls.clear();
        in = (VcpuExit.IoIn) handler.handle(io(HV_INTERCEPT_ACCESS_READ, 2, 0x1f0, 1 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)
                .u64(IO_RCX, 1).u64(IO_RDI, 0x7000_2000L).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x6c).decode());
        in.respond(0, 0x33);
        assertThat(handler.resume()).isNull();
        assertThat(ram.get(JAVA_BYTE, 0x1000)).isEqualTo((byte) 0x33);
        assertThat(written()).containsEntry(HvRegisterName.RDI, 0x7000_2001L).containsEntry(HvRegisterName.RCX, 0L)
                .containsEntry(HvRegisterName.RIP, RIP + 2);
    }

    @Test
    void anOutsdElementAcrossAPageEndTakesItsBytesFromBothPages() {
        kernel.registers.put(HvRegisterName.CR0.value(), PAGING_ON);
        kernel.pageTable.put(0x7000_0L, 3L);
        kernel.pageTable.put(0x7000_1L, 1L);
        ram.asSlice(0x3ffe, 2).copyFrom(MemorySegment.ofArray(new byte[] {0x44, 0x33}));
        ram.asSlice(0x1000, 2).copyFrom(MemorySegment.ofArray(new byte[] {0x22, 0x11}));
        VcpuExit.IoOut out = (VcpuExit.IoOut) handler.handle(io(HV_INTERCEPT_ACCESS_WRITE, 1, 0xcfc, 4 | 1 << IO_STRING_OP_BIT)
                .u64(IO_RSI, 0x7000_0ffeL).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0x6f).decode()); // outsd

        assertThat(values(out)).containsExactly(0x1122_3344L);
        assertThat(translations()).extracting(t -> t[0]).containsExactly(0x7000_0L, 0x7000_1L);
        assertThat(handler.resume()).isNull();
        assertThat(written()).containsEntry(HvRegisterName.RSI, 0x7000_1002L).containsEntry(HvRegisterName.RIP, RIP + 1);
    }

    @Test
    void outsFromAPageThatIsNotPresentIsAnInternalErrorNamingTheAddressAndTheResult() {
        kernel.registers.put(HvRegisterName.CR0.value(), PAGING_ON);
        VcpuExit exit = repOutsb(0x7000_0ffdL, 6);

        assertThat(((VcpuExit.InternalError) exit).detail())
                .startsWith("mshv: outs at rip 0xffffffff81000000: guest virtual address 0x70000ffd does not translate for a read")
                .contains("HVCALL_TRANSLATE_VIRTUAL_ADDRESS answered 0x1 (HV_TRANSLATE_GVA_PAGE_NOT_PRESENT)", "page fault", "RIP=");
        assertThat(setCalls()).as("nothing moved, no register changed").isZero();
    }

    @Test
    void insIntoAPageTheGuestMayNotWriteIsAnInternalErrorNamingTheResult() {
        kernel.registers.put(HvRegisterName.CR0.value(), PAGING_ON);
        kernel.pageTable.put(0x7000_1L, 2L);
        kernel.pageTable.put(0x7000_2L, 1L);
        kernel.translationFaults.put(0x7000_2L, HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION);
        ram.set(JAVA_BYTE, 0x1000, (byte) 0x5a);
        VcpuExit exit = handler.handle(io(HV_INTERCEPT_ACCESS_READ, 3, 0x1f0, 2 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)
                .u64(IO_RCX, 1).u64(IO_RDI, 0x7000_1fffL).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x66, 0x6d).decode()); // rep insw

        assertThat(((VcpuExit.InternalError) exit).detail()).contains("ins at rip 0xffffffff81000000: guest virtual address 0x70002000 "
                + "does not translate for a write: HVCALL_TRANSLATE_VIRTUAL_ADDRESS answered 0x2 (HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION)");
        assertThat(ram.get(JAVA_BYTE, 0x1000)).isEqualTo((byte) 0x5a);
        assertThat(setCalls()).isZero();
    }

    // MMIO

    private static MessageBuilder mmio(int access, long gpa, int... instruction) {
        return new MessageBuilder(HVMSG_UNMAPPED_GPA).header(access, RIP, 0).u64(MEMORY_GPA, gpa)
                .bytes(MEMORY_INSTRUCTION_BYTE_COUNT, MEMORY_INSTRUCTION_BYTES, instruction);
    }

    @Test
    void anMmioStoreIsEmulatedIntoAWriteExitAndRipAdvancesAfterIt() {
        kernel.registers.put(HvRegisterName.RCX.value(), 0x1122_3344_5566_7788L);
        VcpuExit.MmioWrite w = (VcpuExit.MmioWrite) handler.handle(mmio(HV_INTERCEPT_ACCESS_WRITE, 0xfeb0_1004L, 0x89, 0x08).decode()); // mov [rax], ecx

        assertThat(new long[] {w.address(), w.size(), w.value()}).containsExactly(0xfeb0_1004L, 4, 0x5566_7788L);
        assertThat(setCalls()).isZero();
        assertThat(handler.resume()).isNull();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RFLAGS, 0x2L), Map.entry(HvRegisterName.RIP, RIP + 2));
    }

    @Test
    void anMmioLoadWritesTheAnswerIntoTheDestinationRegister() {
        kernel.registers.put(HvRegisterName.RCX.value(), -1L);
        VcpuExit.MmioRead r = (VcpuExit.MmioRead) handler.handle(mmio(HV_INTERCEPT_ACCESS_READ, 0xfeb0_1000L, 0x8b, 0x08).decode()); // mov ecx, [rax]
        assertThat(new long[] {r.address(), r.size()}).containsExactly(0xfeb0_1000L, 4);
        r.respond(0x89ab_cdefL);
        assertThat(handler.resume()).isNull();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RCX, 0x89ab_cdefL), Map.entry(HvRegisterName.RFLAGS, 0x2L),
                Map.entry(HvRegisterName.RIP, RIP + 2));
    }

    @Test
    void aReadModifyWriteIsAReadExitThenAWriteExitThenTheFlags() {
        kernel.registers.put(HvRegisterName.RCX.value(), 1L);
        VcpuExit.MmioRead r = (VcpuExit.MmioRead) handler.handle(mmio(HV_INTERCEPT_ACCESS_WRITE, 0xfeb0_1000L, 0x01, 0x08).decode()); // add [rax], ecx
        r.respond(0xffff_ffffL);
        VcpuExit.MmioWrite w = (VcpuExit.MmioWrite) handler.resume();
        assertThat(new long[] {w.address(), w.size(), w.value()}).containsExactly(0xfeb0_1000L, 4, 0);
        assertThat(setCalls()).as("nothing before the instruction is complete").isZero();
        assertThat(handler.resume()).isNull();
        // ZF, CF, PF, AF: 0xffffffff + 1
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RFLAGS, 0x2L | 0x1 | 0x4 | 0x10 | 0x40), Map.entry(HvRegisterName.RIP, RIP + 2));
    }

    @Test
    void anInstructionTheEmulatorRefusesIsAnInternalErrorNamingItsBytesWithARegisterDump() {
        VcpuExit exit = handler.handle(mmio(HV_INTERCEPT_ACCESS_READ, 0xfeb0_1000L, 0x0f, 0x0b).decode()); // ud2
        String detail = ((VcpuExit.InternalError) exit).detail();
        assertThat(detail).startsWith("mshv: cannot emulate 0f 0b at rip 0xffffffff81000000: ").contains("VP 1:", "RIP=", "CR0=");
        assertThat(setCalls()).isZero();
    }

    @Test
    void withoutAnEmulatorAMemoryInterceptSaysWhatIsMissing() {
        InterceptHandler bare = new InterceptHandler(kernel.vp(1), null, guestRam);
        VcpuExit exit = bare.handle(mmio(HV_INTERCEPT_ACCESS_READ, 0xfeb0_1000L, 0x8b, 0x08).decode());
        assertThat(((VcpuExit.InternalError) exit).detail()).contains("needs an instruction emulator").contains("VmOptions.instructionEmulator");
    }

    /** Runs a {@code rep stosb} of 100 bytes from {@code rdi} (GVA, valid) on the device page; returns the writes made. */
    private int repStosb(long rdi) {
        kernel.registers.put(HvRegisterName.RCX.value(), 100L);
        kernel.registers.put(HvRegisterName.RDI.value(), rdi);
        kernel.registers.put(HvRegisterName.RAX.value(), 0xabL);
        long gpa = 0xfeb0_0000L | (rdi & 0xfff);
        VcpuExit exit = handler.handle(mmio(HV_INTERCEPT_ACCESS_WRITE, gpa, 0xf3, 0xaa)
                .u64(MEMORY_GVA, rdi).u8(MEMORY_ACCESS_INFO, 1 << MEMORY_ACCESS_GVA_VALID_BIT).decode()); // rep stosb
        int writes = 0;
        while (exit instanceof VcpuExit.MmioWrite w) {
            assertThat(new long[] {w.address(), w.size(), w.value()}).containsExactly(gpa + writes, 1, 0xab);
            writes++;
            exit = handler.resume();
        }
        assertThat(exit).isNull();
        return writes;
    }

    @Test
    void aRepStosToMmioStopsAfterSixteenAccessesForTheGuestToExecuteAgain() {
        assertThat(repStosb(0x7000_0f00L)).isEqualTo(InterceptHandler.MAX_MMIO_ACCESSES);
        assertThat(written()).containsEntry(HvRegisterName.RCX, 100L - 16).containsEntry(HvRegisterName.RDI, 0x7000_0f10L)
                .containsEntry(HvRegisterName.RIP, RIP);
    }

    @Test
    void anElementThatWouldStraddleThePageEndIsLeftForTheGuestToExecuteAgain() {
        kernel.registers.put(HvRegisterName.RCX.value(), 3L);
        kernel.registers.put(HvRegisterName.RDI.value(), 0x7000_0ffaL);
        VcpuExit exit = handler.handle(mmio(HV_INTERCEPT_ACCESS_WRITE, 0xfeb0_0ffaL, 0xf3, 0xab) // rep stosd
                .u64(MEMORY_GVA, 0x7000_0ffaL).u8(MEMORY_ACCESS_INFO, 1 << MEMORY_ACCESS_GVA_VALID_BIT).decode());
        assertThat(((VcpuExit.MmioWrite) exit).address()).isEqualTo(0xfeb0_0ffaL);
        assertThat(handler.resume()).as("the next dword, at 0xffe, crosses into the next page").isNull();
        assertThat(written()).containsEntry(HvRegisterName.RCX, 2L).containsEntry(HvRegisterName.RDI, 0x7000_0ffeL)
                .containsEntry(HvRegisterName.RIP, RIP);
    }

    @Test
    void aRepStosToMmioStopsAtTheNextPageWhenThatDoesNotTranslate() {
        assertThat(repStosb(0x7000_0ffcL)).isEqualTo(4);
        assertThat(written()).containsEntry(HvRegisterName.RCX, 96L).containsEntry(HvRegisterName.RDI, 0x7000_1000L)
                .containsEntry(HvRegisterName.RIP, RIP);
        assertThat(translations()).singleElement().satisfies(t -> assertThat(t).containsExactly(0x7000_1L,
                HV_TRANSLATE_GVA_VALIDATE_WRITE | HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS));
    }

    @Test
    void aRepStosToMmioGoesOnIntoTheNextPageWhereTheGuestsPageTablesPutIt() {
        kernel.pageTable.put(0x7000_1L, 0xfeb01L); // the device's next page, not RAM
        assertThat(repStosb(0x7000_0ffcL)).isEqualTo(InterceptHandler.MAX_MMIO_ACCESSES);
        assertThat(written()).containsEntry(HvRegisterName.RCX, 100L - 16).containsEntry(HvRegisterName.RDI, 0x7000_100cL);
        assertThat(translations()).as("once per page, not once per replay").hasSize(1);
    }

    /** A 64-bit {@code rep movsb} (f3 a4) of RCX bytes from RSI (RAM, virtual) to the device page at GVA 0x7fff_0000. */
    private VcpuExit repMovsbToMmio(long rsi, long rcx) {
        kernel.registers.put(HvRegisterName.RCX.value(), rcx);
        kernel.registers.put(HvRegisterName.RSI.value(), rsi);
        kernel.registers.put(HvRegisterName.RDI.value(), 0x7fff_0000L);
        return handler.handle(mmio(HV_INTERCEPT_ACCESS_WRITE, 0xfeb0_0000L, 0xf3, 0xa4).u64(MEMORY_GVA, 0x7fff_0000L)
                .u8(MEMORY_ACCESS_INFO, 1 << MEMORY_ACCESS_GVA_VALID_BIT).decode());
    }

    /** Answers every MMIO write exit from {@code exit} on; returns the values written, in order. */
    private List<Long> deviceWrites(VcpuExit exit) {
        List<Long> values = new java.util.ArrayList<>();
        while (exit instanceof VcpuExit.MmioWrite w) {
            assertThat(new long[] {w.address(), w.size()}).containsExactly(0xfeb0_0000L + values.size(), 1);
            values.add(w.value());
            exit = handler.resume();
        }
        assertThat(exit).isNull();
        return values;
    }

    @Test
    void aRepMovsFromVirtualRamToMmioReadsTheRamThroughThePageTablesAcrossAPageEnd() {
        kernel.pageTable.put(0x7000_0L, 3L);
        kernel.pageTable.put(0x7000_1L, 1L);
        ram.asSlice(0x3ffe, 2).copyFrom(MemorySegment.ofArray("ab".getBytes()));
        ram.asSlice(0x1000, 2).copyFrom(MemorySegment.ofArray("cd".getBytes()));

        assertThat(deviceWrites(repMovsbToMmio(0x7000_0ffeL, 4))).containsExactly((long) 'a', (long) 'b', (long) 'c', (long) 'd');
        assertThat(written()).containsEntry(HvRegisterName.RSI, 0x7000_1002L).containsEntry(HvRegisterName.RDI, 0x7fff_0004L)
                .containsEntry(HvRegisterName.RCX, 0L).containsEntry(HvRegisterName.RIP, RIP + 2);
        assertThat(translations()).as("the RAM side's two pages, each once, for a read").extracting(t -> t[0], t -> t[1])
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0x7000_0L, HV_TRANSLATE_GVA_VALIDATE_READ | HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS),
                        org.assertj.core.groups.Tuple.tuple(0x7000_1L, HV_TRANSLATE_GVA_VALIDATE_READ | HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS));
    }

    @Test
    void aRepMovsStopsBeforeARamPageThatDoesNotTranslateForTheGuestToFaultThere() {
        kernel.pageTable.put(0x7000_0L, 3L);
        ram.asSlice(0x3ffe, 2).copyFrom(MemorySegment.ofArray("ab".getBytes()));

        assertThat(deviceWrites(repMovsbToMmio(0x7000_0ffeL, 4))).containsExactly((long) 'a', (long) 'b');
        assertThat(written()).containsEntry(HvRegisterName.RSI, 0x7000_1000L).containsEntry(HvRegisterName.RDI, 0x7fff_0002L)
                .containsEntry(HvRegisterName.RCX, 2L).containsEntry(HvRegisterName.RIP, RIP);
    }

    @Test
    void aRepMovsFromMmioToVirtualRamWritesTheRamWhereThePageTablesPutItForAWrite() {
        kernel.pageTable.put(0x7000_0L, 3L);
        kernel.registers.put(HvRegisterName.RCX.value(), 2L);
        kernel.registers.put(HvRegisterName.RSI.value(), 0x7fff_0000L);
        kernel.registers.put(HvRegisterName.RDI.value(), 0x7000_0010L);
        VcpuExit exit = handler.handle(mmio(HV_INTERCEPT_ACCESS_READ, 0xfeb0_0000L, 0xf3, 0xa4).u64(MEMORY_GVA, 0x7fff_0000L)
                .u8(MEMORY_ACCESS_INFO, 1 << MEMORY_ACCESS_GVA_VALID_BIT).decode()); // rep movsb, the device the source
        for (int i = 0; i < 2; i++) {
            VcpuExit.MmioRead r = (VcpuExit.MmioRead) exit;
            assertThat(r.address()).isEqualTo(0xfeb0_0000L + i);
            r.respond(0x61 + i);
            exit = handler.resume();
        }
        assertThat(exit).isNull();
        assertThat(ram.asSlice(0x3010, 2).toArray(JAVA_BYTE)).containsExactly('a', 'b');
        assertThat(written()).containsEntry(HvRegisterName.RSI, 0x7fff_0002L).containsEntry(HvRegisterName.RDI, 0x7000_0012L)
                .containsEntry(HvRegisterName.RCX, 0L).containsEntry(HvRegisterName.RIP, RIP + 2);
        assertThat(translations()).singleElement().satisfies(t -> assertThat(t).containsExactly(0x7000_0L,
                HV_TRANSLATE_GVA_VALIDATE_WRITE | HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS));
    }

    @Test
    void aMovsWhoseRamSideDoesNotTranslateAtAllIsAnInternalErrorNamingTheResult() {
        kernel.translationFaults.put(0x7000_0L, HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION);
        VcpuExit exit = repMovsbToMmio(0x7000_0ffeL, 4);

        assertThat(((VcpuExit.InternalError) exit).detail()).contains("movs needs the guest physical address of ds:0x70000ffe",
                "HVCALL_TRANSLATE_VIRTUAL_ADDRESS of guest virtual 0x70000000 for a read answered 0x2 (HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION)");
        assertThat(setCalls()).isZero();
    }

    // the rest

    @Test
    void haltIsTheSpisHalt() {
        assertThat(handler.handle(new MessageBuilder(HVMSG_X64_HALT).header(HV_INTERCEPT_ACCESS_EXECUTE, RIP, 1).decode()))
                .isSameAs(VcpuExit.HALT);
    }

    @Test
    void cpuidIsAnsweredFromTheTableOrTheHypervisorsDefaultWithoutAnExit() {
        handler.setCpuid(List.of(new CpuidEntry(7, 1, true, 9, 9, 9, 9), new CpuidEntry(7, 0, true, 1, 2, 3, 4)));
        assertThat(handler.handle(new MessageBuilder(HVMSG_X64_CPUID_INTERCEPT).header(HV_INTERCEPT_ACCESS_EXECUTE, RIP, 2)
                .u64(CPUID_RAX, 7).u64(CPUID_RCX, 0).decode())).isNull();
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RAX, 1L), Map.entry(HvRegisterName.RBX, 2L),
                Map.entry(HvRegisterName.RCX, 3L), Map.entry(HvRegisterName.RDX, 4L), Map.entry(HvRegisterName.RIP, RIP + 2));
        kernel.calls.clear();
        handler.handle(new MessageBuilder(HVMSG_X64_CPUID_INTERCEPT).header(HV_INTERCEPT_ACCESS_EXECUTE, RIP, 2)
                .u64(CPUID_RAX, 0x4000_0000).u64(CPUID_DEFAULT_RAX, 0x4000_0005).u64(CPUID_DEFAULT_RBX, 0x7263_694d).decode());
        assertThat(written()).containsEntry(HvRegisterName.RAX, 0x4000_0005L).containsEntry(HvRegisterName.RBX, 0x7263_694dL);
    }

    @Test
    void theXsaveSizeInLeaf0xdIsTheHypervisorsForTheGuestsCurrentXcr0() {
        // the table was made at boot, with XCR0 = x87 only (0x240 bytes); the guest has since enabled AVX (0x340)
        handler.setCpuid(List.of(new CpuidEntry(0xd, 0, true, 7, 0x240, 0x340, 0), new CpuidEntry(0xd, 2, true, 0x100, 0x240, 0, 0)));
        handler.handle(new MessageBuilder(HVMSG_X64_CPUID_INTERCEPT).header(HV_INTERCEPT_ACCESS_EXECUTE, RIP, 2)
                .u64(CPUID_RAX, 0xd).u64(CPUID_RCX, 0).u64(CPUID_DEFAULT_RBX, 0x340).decode());
        assertThat(written()).containsEntry(HvRegisterName.RAX, 7L).containsEntry(HvRegisterName.RBX, 0x340L)
                .containsEntry(HvRegisterName.RCX, 0x340L);
        kernel.calls.clear();
        handler.handle(new MessageBuilder(HVMSG_X64_CPUID_INTERCEPT).header(HV_INTERCEPT_ACCESS_EXECUTE, RIP, 2)
                .u64(CPUID_RAX, 0xd).u64(CPUID_RCX, 2).u64(CPUID_DEFAULT_RBX, 0x999).decode());
        assertThat(written()).as("a component's offset is the table's").containsEntry(HvRegisterName.RBX, 0x240L);
    }

    @Test
    void anInterceptedMsrReadsBackWhatWasWritten() {
        assertThat(handler.handle(new MessageBuilder(HVMSG_X64_MSR_INTERCEPT).header(HV_INTERCEPT_ACCESS_WRITE, RIP, 2)
                .u32(MSR_NUMBER, 0x4b56_4d01).u64(MSR_RDX, 0x1).u64(MSR_RAX, 0x2345_6001L).decode())).isNull(); // wrmsr
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RIP, RIP + 2));
        kernel.calls.clear();
        handler.handle(new MessageBuilder(HVMSG_X64_MSR_INTERCEPT).header(HV_INTERCEPT_ACCESS_READ, RIP, 2)
                .u32(MSR_NUMBER, 0x4b56_4d01).decode()); // rdmsr
        assertThat(written()).containsExactly(Map.entry(HvRegisterName.RAX, 0x2345_6001L), Map.entry(HvRegisterName.RDX, 1L),
                Map.entry(HvRegisterName.RIP, RIP + 2));
    }

    @Test
    void anUnrecoverableExceptionIsAnInternalErrorWithARegisterDump() {
        kernel.registers.put(HvRegisterName.RSP.value(), 0x7fff_0000L);
        VcpuExit exit = handler.handle(new MessageBuilder(HVMSG_UNRECOVERABLE_EXCEPTION).header(HV_INTERCEPT_ACCESS_EXECUTE, RIP, 0).decode());
        assertThat(((VcpuExit.InternalError) exit).detail()).startsWith("mshv: HVMSG_UNRECOVERABLE_EXCEPTION")
                .contains("triple fault").contains("RSP=000000007fff0000");
    }
}
