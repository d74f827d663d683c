package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.arch.x86_64.emulator.RecordingMmio.Access;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static dev.nimbus.arch.x86_64.emulator.Registers.RAX;
import static dev.nimbus.arch.x86_64.emulator.Registers.RBP;
import static dev.nimbus.arch.x86_64.emulator.Registers.RBX;
import static dev.nimbus.arch.x86_64.emulator.Registers.RCX;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The emulator, one instruction form per test: the bytes as a guest's compiler emits them (the comment
 * beside each is its assembly, Intel syntax), the access the bus sees, and the registers and flags after.
 * Flags are written as RFLAGS values: bit 1 (0x2) always set, CF 0x1, PF 0x4, AF 0x10, ZF 0x40, SF 0x80, OF 0x800.
 */
class MmioEmulatorTest {
    static final long GPA = 0xfeb0_1004L;
    static final long RIP = 0xffff_ffff_8100_0000L;

    TestRegisters registers = TestRegisters.at(RIP);
    RecordingMmio mmio = new RecordingMmio(0);

    private EmulationResult emulate(String hex) {
        return emulate(CpuMode.LONG_64, hex);
    }

    private EmulationResult emulate(CpuMode mode, String hex) {
        byte[] bytes = HexFormat.ofDelimiter(" ").parseHex(hex);
        return MmioEmulator.emulate(bytes, bytes.length, mode, registers, GPA, mmio);
    }

    private void assertEmulated(EmulationResult result, int length) {
        assertThat(result).isEqualTo(new EmulationResult.Emulated(RIP + length));
        assertThat(registers.rip).isEqualTo(RIP + length);
    }

    // mov

    @Test
    void movToMemoryWritesTheRegisterBytesAtTheInterceptAddress() {
        registers.with(RCX, 0x1122_3344_5566_7788L);
        assertEmulated(emulate("89 08"), 2); // mov [rax], ecx
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 4, 0x5566_7788L));
    }

    @Test
    void movWithRexWWritesAllEightBytes() {
        registers.with(RCX, 0x1122_3344_5566_7788L);
        assertEmulated(emulate("48 89 08"), 3); // mov [rax], rcx
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 8, 0x1122_3344_5566_7788L));
    }

    @Test
    void movWithTheOperandSizePrefixWritesTwoBytes() {
        registers.with(RCX, 0x1122_3344_5566_7788L);
        assertEmulated(emulate("66 89 08"), 3); // mov [rax], cx
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 2, 0x7788L));
    }

    @Test
    void byteRegistersFourToSevenAreAhChDhBhWithoutRexAndSplBplSilDilWithIt() {
        registers.with(RCX, 0x1122_3344_5566_7788L).with(RBP, 0xabcdL);
        assertEmulated(emulate("88 28"), 2); // mov [rax], ch
        registers.rip = RIP;
        assertEmulated(emulate("40 88 28"), 3); // mov [rax], bpl
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 1, 0x77L), Access.write(GPA, 1, 0xcdL));
    }

    @Test
    void aThirtyTwoBitLoadZeroExtendsIntoTheWholeRegister() {
        registers.with(RCX, -1L);
        mmio.value = 0x89ab_cdefL;
        assertEmulated(emulate("8b 08"), 2); // mov ecx, [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x89ab_cdefL);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0x89ab_cdefL));
    }

    @Test
    void sixteenAndEightBitLoadsMergeIntoTheRegister() {
        registers.with(RCX, 0x1111_1111_1111_1111L);
        mmio.value = 0xbeefL;
        assertEmulated(emulate("66 8b 08"), 3); // mov cx, [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x1111_1111_1111_beefL);
        registers.rip = RIP;
        mmio.value = 0x5aL;
        assertEmulated(emulate("8a 28"), 2); // mov ch, [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x1111_1111_1111_5aefL);
        registers.rip = RIP;
        assertEmulated(emulate("8a 08"), 2); // mov cl, [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x1111_1111_1111_5a5aL);
    }

    @Test
    void rexRSelectsTheUpperEightRegisters() {
        mmio.value = 0x0123_4567_89ab_cdefL;
        assertEmulated(emulate("4c 8b 00"), 3); // mov r8, [rax]
        assertThat(registers.gprs[8]).isEqualTo(0x0123_4567_89ab_cdefL);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 8, 0x0123_4567_89ab_cdefL));
    }

    @Test
    void aRexPrefixFollowedByALegacyPrefixIsIgnored() {
        registers.with(RCX, 0x1122_3344_5566_7788L);
        assertEmulated(emulate("48 66 89 08"), 4); // rex.w ignored: mov [rax], cx
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 2, 0x7788L));
    }

    @Test
    void rexWWinsOverTheOperandSizePrefix() {
        registers.with(RCX, 0x1122_3344_5566_7788L);
        assertEmulated(emulate("66 48 89 08"), 4); // mov [rax], rcx
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 8, 0x1122_3344_5566_7788L));
    }

    @Test
    void movOfAnImmediateWritesItAtTheOperandSize() {
        assertEmulated(emulate("c7 00 78 56 34 12"), 6); // mov dword [rax], 0x12345678
        registers.rip = RIP;
        assertEmulated(emulate("48 c7 00 f0 ff ff ff"), 7); // mov qword [rax], -16
        registers.rip = RIP;
        assertEmulated(emulate("c6 00 5a"), 3); // mov byte [rax], 0x5a
        registers.rip = RIP;
        assertEmulated(emulate("66 c7 00 34 12"), 5); // mov word [rax], 0x1234
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 4, 0x1234_5678L), Access.write(GPA, 8, 0xffff_ffff_ffff_fff0L),
                Access.write(GPA, 1, 0x5aL), Access.write(GPA, 2, 0x1234L));
    }

    @Test
    void moffsFormsLoadAndStoreTheAccumulatorWithAnAddressOfTheAddressSize() {
        mmio.value = 0xdead_beefL;
        registers.with(RAX, -1L);
        assertEmulated(emulate("a1 04 10 b0 fe 00 00 00 00"), 9); // mov eax, [0xfeb01004]
        assertThat(registers.gprs[RAX]).isEqualTo(0xdead_beefL);
        registers.rip = RIP;
        registers.with(RAX, 0x0102_0304_0506_0708L);
        assertEmulated(emulate("48 a3 04 10 b0 fe 00 00 00 00"), 10); // mov [0xfeb01004], rax
        registers.rip = RIP;
        assertEmulated(emulate("67 a0 04 10 b0 fe"), 6); // mov al, [0xfeb01004] (32-bit address)
        assertThat(registers.gprs[RAX]).isEqualTo(0x0102_0304_0506_07efL);
        registers.rip = RIP;
        assertEmulated(emulate("a2 04 10 b0 fe 00 00 00 00"), 9); // mov [0xfeb01004], al
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0xdead_beefL), Access.write(GPA, 8, 0x0102_0304_0506_0708L),
                Access.read(GPA, 1, 0xefL), Access.write(GPA, 1, 0xefL));
    }

    @Test
    void movzxZeroExtendsAByteOrWordRead() {
        registers.with(RCX, -1L);
        mmio.value = 0xf0L;
        assertEmulated(emulate("0f b6 08"), 3); // movzx ecx, byte [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0xf0L);
        registers.rip = RIP;
        mmio.value = 0x8001L;
        assertEmulated(emulate("48 0f b7 08"), 4); // movzx rcx, word [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x8001L);
        registers.rip = RIP;
        registers.with(RCX, 0x1111_1111_1111_1111L);
        mmio.value = 0x80L;
        assertEmulated(emulate("66 0f b6 08"), 4); // movzx cx, byte [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x1111_1111_1111_0080L);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 1, 0xf0L), Access.read(GPA, 2, 0x8001L), Access.read(GPA, 1, 0x80L));
    }

    @Test
    void movsxSignExtendsAByteOrWordRead() {
        registers.with(RCX, -1L);
        mmio.value = 0x80L;
        assertEmulated(emulate("0f be 08"), 3); // movsx ecx, byte [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0xffff_ff80L);
        registers.rip = RIP;
        mmio.value = 0x8000L;
        assertEmulated(emulate("48 0f bf 08"), 4); // movsx rcx, word [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0xffff_ffff_ffff_8000L);
        registers.rip = RIP;
        mmio.value = 0x7fffL;
        assertEmulated(emulate("0f bf 08"), 3); // movsx ecx, word [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0x7fffL);
    }

    @Test
    void movsxdSignExtendsADoublewordIntoASixtyFourBitRegister() {
        mmio.value = 0x8000_0000L;
        assertEmulated(emulate("48 63 08"), 3); // movsxd rcx, dword [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0xffff_ffff_8000_0000L);
        registers.rip = RIP;
        registers.with(RCX, -1L);
        assertEmulated(emulate("63 08"), 2); // movsxd ecx, dword [rax]: a 32-bit move, zero-extended
        assertThat(registers.gprs[RCX]).isEqualTo(0x8000_0000L);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0x8000_0000L), Access.read(GPA, 4, 0x8000_0000L));
    }

    @Test
    void movsxdWithTheOperandSizePrefixIsRefusedAsIntelAndAmdReadDifferentWidths() {
        assertRefused("66 63 08", "cannot emulate 66 63 at rip 0xffffffff81000000: movsxd with a 16-bit operand, "
                + "whose read is 2 bytes on Intel and 4 on AMD");
        assertEmulated(emulate("66 48 63 08"), 4); // REX.W wins: movsxd rcx, dword [rax]
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0));
    }

    // the ALU with a memory destination: a read, then a write of the result (none for cmp and test)

    @Test
    void addToMemoryWritesTheSumAndSetsCarryZeroParityAndAdjust() {
        mmio.value = 0xffff_ffffL;
        registers.with(RCX, 1);
        assertEmulated(emulate("01 08"), 2); // add [rax], ecx
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0xffff_ffffL), Access.write(GPA, 4, 0));
        assertThat(registers.rflags).isEqualTo(0x2 | 0x1 | 0x4 | 0x10 | 0x40);
    }

    @Test
    void subFromMemoryBorrowsThroughEveryBit() {
        mmio.value = 0;
        registers.with(RCX, 1);
        assertEmulated(emulate("29 08"), 2); // sub [rax], ecx
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0), Access.write(GPA, 4, 0xffff_ffffL));
        assertThat(registers.rflags).isEqualTo(0x2 | 0x1 | 0x4 | 0x10 | 0x80);
    }

    @Test
    void cmpReadsAndSetsFlagsButWritesNothing() {
        mmio.value = 0x8000_0000L;
        registers.with(RCX, 1);
        assertEmulated(emulate("39 08"), 2); // cmp [rax], ecx: most negative minus one overflows
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0x8000_0000L));
        assertThat(registers.rflags).isEqualTo(0x2 | 0x800 | 0x10 | 0x4);
    }

    @Test
    void testSetsZeroAndParityAndClearsCarryOverflowAndAdjust() {
        mmio.value = 0xf0;
        registers.with(RCX, 0x0f);
        registers.rflags = 0x2 | 0x1 | 0x10 | 0x800;
        assertEmulated(emulate("85 08"), 2); // test [rax], ecx
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0xf0L));
        assertThat(registers.rflags).isEqualTo(0x2 | 0x40 | 0x4);
    }

    @Test
    void andOrXorWriteTheirResultAndSetSignZeroParity() {
        mmio.value = 0xff00_ff00L;
        registers.with(RCX, 0x0ff0_0ff0L);
        assertEmulated(emulate("21 08"), 2); // and [rax], ecx
        assertThat(registers.rflags).isEqualTo(0x2 | 0x4);
        registers.rip = RIP;
        mmio.value = 0x8000_0000L;
        registers.with(RCX, 1);
        assertEmulated(emulate("09 08"), 2); // or [rax], ecx
        assertThat(registers.rflags).isEqualTo(0x2 | 0x80);
        registers.rip = RIP;
        mmio.value = 0x8000_0001L;
        registers.with(RCX, 0x8000_0001L);
        assertEmulated(emulate("31 08"), 2); // xor [rax], ecx
        assertThat(registers.rflags).isEqualTo(0x2 | 0x40 | 0x4);
        assertThat(mmio.accesses).filteredOn(Access::isWrite).containsExactly(Access.write(GPA, 4, 0x0f00_0f00L),
                Access.write(GPA, 4, 0x8000_0001L), Access.write(GPA, 4, 0));
    }

    @Test
    void adcAndSbbTakeTheCarryIn() {
        registers.rflags = 0x2 | 0x1;
        mmio.value = 0xffff_ffffL;
        assertEmulated(emulate("11 08"), 2); // adc [rax], ecx (ecx 0)
        assertThat(registers.rflags).isEqualTo(0x2 | 0x1 | 0x4 | 0x10 | 0x40);
        registers.rip = RIP;
        mmio.value = 0;
        assertEmulated(emulate("19 08"), 2); // sbb [rax], ecx (ecx 0)
        assertThat(registers.rflags).isEqualTo(0x2 | 0x1 | 0x4 | 0x10 | 0x80);
        assertThat(mmio.accesses).filteredOn(Access::isWrite).containsExactly(Access.write(GPA, 4, 0), Access.write(GPA, 4, 0xffff_ffffL));
    }

    @Test
    void anAluOpWithARegisterDestinationWritesTheRegisterAndNotMemory() {
        registers.with(RCX, 0xffff_ffff_0000_0005L);
        mmio.value = 3;
        assertEmulated(emulate("03 08"), 2); // add ecx, [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(8);
        assertThat(registers.rflags).isEqualTo(0x2);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 3));
    }

    @Test
    void cmpWithARegisterOperandLeavesTheRegisterWhole() {
        registers.with(RCX, 0xffff_ffff_0000_0005L);
        mmio.value = 5;
        assertEmulated(emulate("3b 08"), 2); // cmp ecx, [rax]
        assertThat(registers.gprs[RCX]).isEqualTo(0xffff_ffff_0000_0005L);
        assertThat(registers.rflags).isEqualTo(0x2 | 0x40 | 0x4);
    }

    @Test
    void groupOneTakesAnImmediateSignExtendedToTheOperandSize() {
        mmio.value = 1;
        assertEmulated(emulate("83 00 ff"), 3); // add dword [rax], -1
        assertThat(registers.rflags).isEqualTo(0x2 | 0x1 | 0x4 | 0x10 | 0x40);
        registers.rip = RIP;
        mmio.value = 0xffff_ffff_8000_0000L;
        assertEmulated(emulate("48 81 38 00 00 00 80"), 7); // cmp qword [rax], 0xffffffff80000000
        assertThat(registers.rflags).isEqualTo(0x2 | 0x40 | 0x4);
        registers.rip = RIP;
        mmio.value = 0xf5;
        assertEmulated(emulate("80 20 0f"), 3); // and byte [rax], 0x0f
        assertThat(registers.rflags).isEqualTo(0x2 | 0x4);
        registers.rip = RIP;
        mmio.value = 1;
        assertEmulated(emulate("66 83 08 80"), 4); // or word [rax], 0xff80
        assertThat(registers.rflags).isEqualTo(0x2 | 0x80 | 0x4);
        assertThat(mmio.accesses).filteredOn(Access::isWrite).containsExactly(Access.write(GPA, 4, 0), Access.write(GPA, 1, 5),
                Access.write(GPA, 2, 0xff81));
    }

    @Test
    void testWithAnImmediateOnlyReads() {
        mmio.value = 0x80;
        assertEmulated(emulate("f6 00 80"), 3); // test byte [rax], 0x80
        assertThat(registers.rflags).isEqualTo(0x2 | 0x80);
        registers.rip = RIP;
        mmio.value = 0x8000_0000L;
        assertEmulated(emulate("f7 00 00 00 00 80"), 6); // test dword [rax], 0x80000000
        assertThat(registers.rflags).isEqualTo(0x2 | 0x80 | 0x4);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 1, 0x80), Access.read(GPA, 4, 0x8000_0000L));
    }

    @Test
    void aLockedAddIsAReadThenAWrite() {
        mmio.value = 41;
        registers.with(RCX, 1);
        assertEmulated(emulate("f0 01 08"), 3); // lock add [rax], ecx
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 41), Access.write(GPA, 4, 42));
    }

    @Test
    void xchgWritesTheRegisterAndLoadsTheOldValue() {
        registers.with(RCX, 0x1111_1111_2222_2222L);
        mmio.value = 0xaabb_ccddL;
        assertEmulated(emulate("87 08"), 2); // xchg [rax], ecx
        assertThat(registers.gprs[RCX]).isEqualTo(0xaabb_ccddL);
        registers.rip = RIP;
        registers.with(RCX, 0x1234);
        mmio.value = 0x99;
        assertEmulated(emulate("86 28"), 2); // xchg [rax], ch
        assertThat(registers.gprs[RCX]).isEqualTo(0x9934);
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 0xaabb_ccddL), Access.write(GPA, 4, 0x2222_2222L),
                Access.read(GPA, 1, 0x99), Access.write(GPA, 1, 0x12));
    }

    // what is refused: nothing done, and the bytes named

    private void assertRefused(String hex, String message) {
        TestRegisters before = registers.copy();
        assertThat(emulate(hex)).isEqualTo(new EmulationResult.CannotEmulate(message));
        assertThat(registers).isEqualTo(before);
        assertThat(mmio.accesses).isEmpty();
    }

    @Test
    void anOpcodeItDoesNotKnowIsRefusedNamingTheBytesUpToTheOpcode() {
        assertRefused("0f 0b 90 90", "cannot emulate 0f 0b at rip 0xffffffff81000000: opcode 0f 0b is not one this emulator handles");
    }

    @Test
    void aRegisterOnlyFormIsRefused() {
        assertRefused("89 c8", "cannot emulate 89 c8 at rip 0xffffffff81000000: a register operand, no memory access to emulate");
    }

    @Test
    void lockOnAMovIsRefusedAsTheCpuRaisesUd() {
        assertRefused("f0 89 08", "cannot emulate f0 89 08 at rip 0xffffffff81000000: a lock prefix on an instruction that cannot take one (#UD on the CPU)");
        assertRefused("f0 39 08", "cannot emulate f0 39 08 at rip 0xffffffff81000000: a lock prefix on an instruction that cannot take one (#UD on the CPU)");
    }

    @Test
    void aRepeatPrefixOnANonStringInstructionIsRefused() {
        assertRefused("f3 89 08", "cannot emulate f3 89 08 at rip 0xffffffff81000000: a f3 prefix on a non-string instruction");
    }

    @Test
    void otherMembersOfTheMovAndTestGroupsAreRefused() {
        assertRefused("c7 f8 00 00 00 00", "cannot emulate c7 f8 at rip 0xffffffff81000000: opcode c7 /7 is not one this emulator handles");
        assertRefused("f7 10", "cannot emulate f7 10 at rip 0xffffffff81000000: opcode f7 /2 is not one this emulator handles");
    }

    @Test
    void anInstructionLongerThanTheBytesGivenIsRefused() {
        assertRefused("8b 04", "cannot emulate 8b 04 at rip 0xffffffff81000000: the instruction runs past the 2 bytes given");
        assertRefused("", "cannot emulate <no instruction bytes> at rip 0xffffffff81000000: the instruction runs past the 0 bytes given");
    }

    @Test
    void fifteenBytesAreEmulatedAndSixteenRefused() {
        assertEmulated(emulate("66 ".repeat(13) + "89 08"), 15);
        registers.rip = RIP;
        mmio.accesses.clear();
        assertRefused("66 ".repeat(14) + "89 08",
                "cannot emulate " + "66 ".repeat(14) + "89 at rip 0xffffffff81000000: longer than 15 bytes (#GP on the CPU)");
    }

    @Test
    void opcode82IsInvalidInSixtyFourBitMode() {
        assertRefused("82 00 01", "cannot emulate 82 at rip 0xffffffff81000000: opcode 82 is not one this emulator handles");
    }

    // 32- and 16-bit code segments

    @Test
    void inThirtyTwoBitModeFortyIsIncNotRex() {
        byte[] bytes = {0x40, (byte) 0x89, 0x08};
        assertThat(MmioEmulator.emulate(bytes, 3, CpuMode.PROTECTED_32, registers, GPA, mmio))
                .isEqualTo(new EmulationResult.CannotEmulate("cannot emulate 40 at rip 0xffffffff81000000: opcode 40 is not one this emulator handles"));
    }

    @Test
    void inThirtyTwoBitModeTheOperandSizePrefixSelectsSixteenBitsAndRipWraps() {
        registers.rip = 0xffff_fffdL;
        registers.with(RCX, 0x1234_5678L);
        assertThat(emulate(CpuMode.PROTECTED_32, "66 89 08")).isEqualTo(new EmulationResult.Emulated(0));
        assertThat(registers.rip).isZero();
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 2, 0x5678));
    }

    @Test
    void inThirtyTwoBitModeMoffsTakesFourBytesAndOpcode82IsAnAliasOf80() {
        registers.rip = 0x1000;
        mmio.value = 7;
        assertThat(emulate(CpuMode.PROTECTED_32, "a1 04 10 b0 fe")).isEqualTo(new EmulationResult.Emulated(0x1005));
        assertThat(emulate(CpuMode.PROTECTED_32, "82 00 01")).isEqualTo(new EmulationResult.Emulated(0x1008));
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 4, 7), Access.read(GPA, 1, 7), Access.write(GPA, 1, 8));
    }

    @Test
    void inSixteenBitModeOperandsAreSixteenBitsUnlessPrefixed() {
        registers.rip = 0x7c00;
        registers.with(RAX, 0xffff_ffffL);
        mmio.value = 0x1234_5678L;
        assertThat(emulate(CpuMode.PROTECTED_16, "8b 07")).isEqualTo(new EmulationResult.Emulated(0x7c02)); // mov ax, [bx]
        assertThat(registers.gprs[RAX]).isEqualTo(0xffff_5678L);
        assertThat(emulate(CpuMode.PROTECTED_16, "66 8b 07")).isEqualTo(new EmulationResult.Emulated(0x7c05)); // mov eax, [bx]
        assertThat(registers.gprs[RAX]).isEqualTo(0x1234_5678L);
        registers.with(RBX, 0);
        assertThat(emulate(CpuMode.PROTECTED_16, "8b 87 00 01")).isEqualTo(new EmulationResult.Emulated(0x7c09)); // mov ax, [bx+0x100]
    }
}
