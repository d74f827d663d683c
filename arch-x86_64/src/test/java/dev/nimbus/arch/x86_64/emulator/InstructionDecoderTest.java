package dev.nimbus.arch.x86_64.emulator;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static dev.nimbus.arch.x86_64.emulator.Registers.RBP;
import static dev.nimbus.arch.x86_64.emulator.Registers.RBX;
import static dev.nimbus.arch.x86_64.emulator.Registers.RCX;
import static dev.nimbus.arch.x86_64.emulator.Registers.RSI;
import static dev.nimbus.arch.x86_64.emulator.Registers.RSP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Decoding: lengths, and the memory operand's effective address, which the emulator does not use (the
 * intercept gives the physical address) but whose displacement and SIB bytes decide where the instruction
 * ends. Registers are set so that every base and index contributes a distinct amount.
 */
class InstructionDecoderTest {
    static final long RIP = 0x40_0000L;
    final TestRegisters registers = TestRegisters.at(RIP)
            .with(RBX, 0x1000).with(RCX, 0x30).with(RSP, 0x7ff0).with(RBP, 0x8000).with(RSI, 0x200)
            .with(Registers.RDI, 0x400).with(12, 0x5_0000_0000L).with(13, 0x6_0000_0000L);

    private static Instruction decode(CpuMode mode, String hex) throws Refused {
        byte[] bytes = HexFormat.ofDelimiter(" ").parseHex(hex);
        return InstructionDecoder.decode(bytes, bytes.length, mode);
    }

    private long address(CpuMode mode, String hex) throws Refused {
        Instruction i = decode(mode, hex);
        assertThat(i.length()).as("length of %s", hex).isEqualTo(hex.split(" ").length);
        return i.memory().effectiveAddress(registers, RIP + i.length(), i.addressSize());
    }

    @Test
    void ripRelativeAddressingCountsFromTheNextInstruction() throws Refused {
        assertThat(address(CpuMode.LONG_64, "8b 05 10 00 00 00")).isEqualTo(RIP + 6 + 0x10); // mov eax, [rip+0x10]
        assertThat(address(CpuMode.LONG_64, "c7 05 f0 ff ff ff 01 00 00 00")).isEqualTo(RIP + 10 - 0x10); // mov dword [rip-0x10], 1
    }

    @Test
    void aThirtyTwoBitAddressSizeWrapsRipRelativeAddresses() throws Refused {
        registers.rip = 0x1_0000_0000L;
        Instruction i = decode(CpuMode.LONG_64, "67 8b 05 f0 ff ff ff"); // mov eax, [eip-0x10]
        assertThat(i.memory().effectiveAddress(registers, registers.rip + i.length(), i.addressSize())).isEqualTo(7 - 0x10 & 0xffff_ffffL);
    }

    @Test
    void sibAddressingWithScaleIndexBaseAndDisplacement() throws Refused {
        assertThat(address(CpuMode.LONG_64, "8b 44 24 08")).isEqualTo(0x7ff0 + 8); // mov eax, [rsp+8]
        assertThat(address(CpuMode.LONG_64, "8b 04 24")).isEqualTo(0x7ff0); // mov eax, [rsp]: index 100 is none
        assertThat(address(CpuMode.LONG_64, "8b 84 8b 00 01 00 00")).isEqualTo(0x1000 + 0x30 * 4 + 0x100); // [rbx+rcx*4+0x100]
        assertThat(address(CpuMode.LONG_64, "42 8b 04 20")).isEqualTo(0x5_0000_0000L); // mov eax, [rax+r12]: REX.X makes index 100 r12
        assertThat(address(CpuMode.LONG_64, "8b 04 cd 00 00 00 00")).isEqualTo(0x30 * 8); // [rcx*8+0]: base 101 with mod 00 is disp32
    }

    @Test
    void anAbsoluteDisplacementIsSignExtendedInSixtyFourBitMode() throws Refused {
        assertThat(address(CpuMode.LONG_64, "8b 04 25 00 10 b0 fe")).isEqualTo(0xffff_ffff_feb0_1000L); // mov eax, [0xfffffffffeb01000]
    }

    @Test
    void r13AsABaseNeedsADisplacementLikeRbp() throws Refused {
        assertThat(address(CpuMode.LONG_64, "41 8b 45 00")).isEqualTo(0x6_0000_0000L); // mov eax, [r13+0]
        assertThat(address(CpuMode.LONG_64, "8b 45 f8")).isEqualTo(0x8000 - 8); // mov eax, [rbp-8]
    }

    @Test
    void theImmediateFollowsTheDisplacement() throws Refused {
        Instruction i = decode(CpuMode.LONG_64, "c7 80 00 01 00 00 ff 00 00 00"); // mov dword [rax+0x100], 0xff
        assertThat(i.length()).isEqualTo(10);
        assertThat(i.immediate()).isEqualTo(0xff);
        assertThat(decode(CpuMode.LONG_64, "48 c7 80 00 01 00 00 ff ff ff ff").immediate()).isEqualTo(-1L);
        assertThat(decode(CpuMode.LONG_64, "66 c7 80 00 01 00 00 ff ff").length()).isEqualTo(9);
    }

    @Test
    void inThirtyTwoBitModeModZeroRmFiveIsAnAbsoluteAddress() throws Refused {
        assertThat(address(CpuMode.PROTECTED_32, "8b 05 00 10 b0 fe")).isEqualTo(0xfeb0_1000L);
    }

    @Test
    void sixteenBitAddressingUsesTheBaseIndexPairs() throws Refused {
        assertThat(address(CpuMode.PROTECTED_32, "67 8b 07")).isEqualTo(0x1000); // mov eax, [bx]
        assertThat(address(CpuMode.PROTECTED_32, "67 8b 06 34 12")).isEqualTo(0x1234); // mov eax, [0x1234]
        assertThat(address(CpuMode.PROTECTED_32, "67 8b 42 fe")).isEqualTo(0x8000 + 0x200 - 2); // mov eax, [bp+si-2]
        assertThat(address(CpuMode.PROTECTED_16, "8b 81 00 01")).isEqualTo(0x1000 + 0x400 + 0x100); // mov ax, [bx+di+0x100]
        assertThat(address(CpuMode.PROTECTED_16, "67 8b 04 4b")).isEqualTo(0x1000 + 0x30 * 2); // 32-bit addressing: [ebx+ecx*2]
    }

    @Test
    void operandAndAddressSizesFollowTheModeAndPrefixes() throws Refused {
        assertThat(decode(CpuMode.LONG_64, "8b 00")).extracting(Instruction::operandSize, Instruction::addressSize).containsExactly(4, 8);
        assertThat(decode(CpuMode.LONG_64, "66 67 8b 00")).extracting(Instruction::operandSize, Instruction::addressSize).containsExactly(2, 4);
        assertThat(decode(CpuMode.LONG_64, "48 8b 00")).extracting(Instruction::operandSize, Instruction::addressSize).containsExactly(8, 8);
        assertThat(decode(CpuMode.PROTECTED_32, "66 67 8b 07")).extracting(Instruction::operandSize, Instruction::addressSize).containsExactly(2, 2);
        assertThat(decode(CpuMode.PROTECTED_16, "66 67 8b 00")).extracting(Instruction::operandSize, Instruction::addressSize).containsExactly(4, 4);
    }

    @Test
    void prefixesAreRecordedInAnyOrder() throws Refused {
        Instruction i = decode(CpuMode.LONG_64, "f0 65 66 01 08");
        assertThat(i).extracting(Instruction::lock, Instruction::segment, Instruction::operandSize, Instruction::length)
                .containsExactly(true, 0x65, 2, 5);
    }

    @Test
    void aThreeByteOpcodeIsUnknown() {
        assertThatThrownBy(() -> decode(CpuMode.LONG_64, "66 0f 38 00 08")).isInstanceOf(Refused.class)
                .hasMessage("opcode 0f 38 is not one this emulator handles");
    }

    @Test
    void theModeIsTakenFromTheCodeSegment() {
        assertThat(CpuMode.of(true, true, false)).isEqualTo(CpuMode.LONG_64);
        assertThat(CpuMode.of(true, false, true)).isEqualTo(CpuMode.PROTECTED_32);
        assertThat(CpuMode.of(false, false, true)).isEqualTo(CpuMode.PROTECTED_32);
        assertThat(CpuMode.of(false, false, false)).isEqualTo(CpuMode.PROTECTED_16);
    }
}
