package dev.nimbus.mshv.intercept;

import dev.nimbus.hypervisor.HypervisorException;
import org.junit.jupiter.api.Test;

import java.util.OptionalInt;

import static dev.nimbus.mshv.abi.HvConstants.*;
import static dev.nimbus.mshv.abi.HvStructs.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Decoding the messages {@code MSHV_RUN_VP} returns. The messages are built by {@link MessageBuilder} through
 * the layouts {@code MshvHeaderConformanceTest} checks (a stand-in for the kernel: no /dev/mshv here); the
 * guest instructions are real encodings ({@code ee} out dx,al; {@code f3 6e} rep outsb; {@code 8b 07} mov
 * eax,[rdi]).
 */
class HvMessageDecoderTest {
    @Test
    void outOfAByteCarriesPortSizeDirectionRaxAndTheNextRip() {
        HvIntercept i = new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT).header(HV_INTERCEPT_ACCESS_WRITE, 0x1000, 1)
                .u16(IO_PORT_NUMBER, 0x3f8).u8(IO_ACCESS_INFO, 1).u64(IO_RAX, 0x1234_5641)
                .bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xee).decode();

        IoPortIntercept io = (IoPortIntercept) i;
        assertThat(io.port()).isEqualTo(0x3f8);
        assertThat(io.size()).isEqualTo(1);
        assertThat(io.in()).isFalse();
        assertThat(io.string()).isFalse();
        assertThat(io.rep()).isFalse();
        assertThat(io.rax()).isEqualTo(0x1234_5641);
        assertThat(io.header().rip()).isEqualTo(0x1000);
        assertThat(io.header().instructionLength()).isEqualTo(1);
        assertThat(io.header().nextRip()).isEqualTo(0x1001);
        assertThat(io.instruction()).hasToString("ee");
    }

    @Test
    void inOfADwordIsARead() {
        IoPortIntercept io = (IoPortIntercept) new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT)
                .header(HV_INTERCEPT_ACCESS_READ, 0x2000, 1).u16(IO_PORT_NUMBER, 0xcfc).u8(IO_ACCESS_INFO, 4).decode();

        assertThat(io.in()).isTrue();
        assertThat(io.size()).isEqualTo(4);
        assertThat(io.port()).isEqualTo(0xcfc);
    }

    @Test
    void repOutsbIsAStringAccessWithTheRegistersItUses() {
        IoPortIntercept io = (IoPortIntercept) new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT)
                .header(HV_INTERCEPT_ACCESS_WRITE, 0x3000, 2).u16(IO_PORT_NUMBER, 0x3f8)
                .u8(IO_ACCESS_INFO, 1 | 1 << IO_STRING_OP_BIT | 1 << IO_REP_PREFIX_BIT)
                .u64(IO_RCX, 12).u64(IO_RSI, 0x8000).u64(IO_RDI, 0x9000)
                .segment(IO_DS, 0x100, 0x18, 0x93).segment(IO_ES, 0x200, 0x20, 0x93)
                .bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0xf3, 0x6e).decode();

        assertThat(io.string()).isTrue();
        assertThat(io.rep()).isTrue();
        assertThat(new long[] {io.rcx(), io.rsi(), io.rdi()}).containsExactly(12, 0x8000, 0x9000);
        assertThat(io.ds().base()).isEqualTo(0x100);
        assertThat(io.es().selector()).isEqualTo(0x20);
        assertThat(io.instruction()).hasToString("f3 6e");
        assertThat(io.header().nextRip()).isEqualTo(0x3002);
    }

    @Test
    void insWithoutRepIsAStringAccessOnce() {
        IoPortIntercept io = (IoPortIntercept) new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT)
                .header(HV_INTERCEPT_ACCESS_READ, 0x3000, 2).u16(IO_PORT_NUMBER, 0x1f0)
                .u8(IO_ACCESS_INFO, 2 | 1 << IO_STRING_OP_BIT).bytes(IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, 0x66, 0x6d)
                .decode();

        assertThat(io.in()).isTrue();
        assertThat(io.size()).isEqualTo(2);
        assertThat(io.string()).isTrue();
        assertThat(io.rep()).isFalse();
    }

    @Test
    void anIoAccessSizeOutsideTheFormatIsRefusedNamingIt() {
        MessageBuilder m = new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT).header(HV_INTERCEPT_ACCESS_WRITE, 0, 1)
                .u16(IO_PORT_NUMBER, 0x80).u8(IO_ACCESS_INFO, 3);

        assertThatThrownBy(m::decode).isInstanceOf(HypervisorException.class)
                .hasMessageContaining("port 0x80 with access size 3");
    }

    @Test
    void unmappedGpaCarriesTheAddressesTheAccessAndTheInstructionBytes() {
        MemoryIntercept mem = (MemoryIntercept) new MessageBuilder(HVMSG_UNMAPPED_GPA)
                .header(HV_INTERCEPT_ACCESS_READ, 0xffff_ffff_8100_0000L, 2)
                .u64(MEMORY_GPA, 0xfebf_0010L).u64(MEMORY_GVA, 0xffff_c900_0001_0010L)
                .u8(MEMORY_ACCESS_INFO, 1 << MEMORY_ACCESS_GVA_VALID_BIT)
                .bytes(MEMORY_INSTRUCTION_BYTE_COUNT, MEMORY_INSTRUCTION_BYTES, 0x8b, 0x07).decode();

        assertThat(mem.unmapped()).isTrue();
        assertThat(mem.gpa()).isEqualTo(0xfebf_0010L);
        assertThat(mem.gva()).isEqualTo(0xffff_c900_0001_0010L);
        assertThat(mem.gvaValid()).isTrue();
        assertThat(mem.header().access()).isEqualTo(AccessType.READ);
        assertThat(mem.instruction().toArray()).containsExactly(0x8b, 0x07);
        assertThat(mem.header().rip()).isEqualTo(0xffff_ffff_8100_0000L);
    }

    @Test
    void aGpaInterceptIsAMappedPageAndItsBytesAreAllSixteenAtMost() {
        int[] sixteen = new int[16];
        for (int b = 0; b < 16; b++) {
            sixteen[b] = 0x90 + b;
        }
        MemoryIntercept mem = (MemoryIntercept) new MessageBuilder(HVMSG_GPA_INTERCEPT)
                .header(HV_INTERCEPT_ACCESS_WRITE, 0, 3).u64(MEMORY_GPA, 0x1000)
                .bytes(MEMORY_INSTRUCTION_BYTE_COUNT, MEMORY_INSTRUCTION_BYTES, sixteen).decode();

        assertThat(mem.unmapped()).isFalse();
        assertThat(mem.gvaValid()).isFalse();
        assertThat(mem.header().access()).isEqualTo(AccessType.WRITE);
        assertThat(mem.instruction().length()).isEqualTo(16);
        assertThat(mem.instruction().get(15)).isEqualTo((byte) 0x9f);
    }

    @Test
    void moreThanSixteenInstructionBytesIsRefused() {
        MessageBuilder m = new MessageBuilder(HVMSG_UNMAPPED_GPA).header(HV_INTERCEPT_ACCESS_READ, 0, 2)
                .u8(MEMORY_INSTRUCTION_BYTE_COUNT, 17);

        assertThatThrownBy(m::decode).isInstanceOf(HypervisorException.class)
                .hasMessageContaining("memory intercept claims 17 instruction bytes");
    }

    @Test
    void theHeaderGivesExecutionStateAndCs() {
        InterceptHeader h = ((HaltIntercept) new MessageBuilder(HVMSG_X64_HALT).header(HV_INTERCEPT_ACCESS_EXECUTE, 0x5000, 1).decode()).header();

        assertThat(h.vpIndex()).isEqualTo(1);
        assertThat(h.access()).isEqualTo(AccessType.EXECUTE);
        assertThat(h.cpl()).isZero();
        assertThat(h.protectedMode()).isTrue();
        assertThat(h.longModeActive()).isTrue();
        assertThat(h.cs().selector()).isEqualTo(0x10);
        assertThat(h.cs().longMode()).isTrue();
        assertThat(h.cs().defaultBig()).isFalse();
        assertThat(h.cs().present()).isTrue();
        assertThat(h.cs().type()).isEqualTo(0xb);
        assertThat(h.rflags()).isEqualTo(2);
    }

    @Test
    void haltAndUnrecoverableExceptionCarryTheHeaderAlone() {
        assertThat(new MessageBuilder(HVMSG_X64_HALT).header(HV_INTERCEPT_ACCESS_EXECUTE, 0x5000, 1).decode())
                .isInstanceOf(HaltIntercept.class);
        HvIntercept fatal = new MessageBuilder(HVMSG_UNRECOVERABLE_EXCEPTION).header(HV_INTERCEPT_ACCESS_EXECUTE, 0x6000, 0).decode();
        assertThat(fatal).isInstanceOf(UnrecoverableException.class);
        assertThat(((UnrecoverableException) fatal).header().rip()).isEqualTo(0x6000);
    }

    @Test
    void anApicEoiIsTheVpAndTheVectorWithNoInterceptHeader() {
        // hv_x64_apic_eoi_message: vp_index at 0, interrupt_vector at 4 of the payload
        assertThat(new MessageBuilder(HVMSG_X64_APIC_EOI).u32(0, 3).u32(4, 0x31).decode()).isEqualTo(new ApicEoi(3, 0x31));
        assertThatThrownBy(new MessageBuilder(HVMSG_X64_APIC_EOI).u32(0, 3).u32(4, 0x131)::decode)
                .isInstanceOf(HypervisorException.class).hasMessageContaining("vector 0x131");
    }

    @Test
    void cpuidCarriesLeafSubleafAndTheDefaultAnswer() {
        CpuidIntercept c = (CpuidIntercept) new MessageBuilder(HVMSG_X64_CPUID_INTERCEPT).header(HV_INTERCEPT_ACCESS_EXECUTE, 0, 2)
                .u64(CPUID_RAX, 7).u64(CPUID_RCX, 1).u64(CPUID_RDX, 3).u64(CPUID_RBX, 4)
                .u64(CPUID_DEFAULT_RAX, 0xa).u64(CPUID_DEFAULT_RCX, 0xb).u64(CPUID_DEFAULT_RDX, 0xc)
                .u64(CPUID_DEFAULT_RBX, 0xd).decode();

        assertThat(new long[] {c.rax(), c.rcx(), c.rdx(), c.rbx()}).containsExactly(7, 1, 3, 4);
        assertThat(new long[] {c.defaultRax(), c.defaultRcx(), c.defaultRdx(), c.defaultRbx()}).containsExactly(0xa, 0xb, 0xc, 0xd);
    }

    @Test
    void wrmsrCarriesTheMsrAndEdxEax() {
        MsrIntercept m = (MsrIntercept) new MessageBuilder(HVMSG_X64_MSR_INTERCEPT).header(HV_INTERCEPT_ACCESS_WRITE, 0, 2)
                .u32(MSR_NUMBER, 0xc000_0080).u64(MSR_RDX, 0x1).u64(MSR_RAX, 0xffff_ffff_0000_0d01L).decode();

        assertThat(m.write()).isTrue();
        assertThat(m.msr()).isEqualTo(0xc000_0080);
        assertThat(m.value()).isEqualTo(0x1_0000_0d01L);
    }

    @Test
    void anExceptionHasAnErrorCodeOnlyWhenMarkedValid() {
        ExceptionIntercept gp = (ExceptionIntercept) new MessageBuilder(HVMSG_X64_EXCEPTION_INTERCEPT)
                .header(HV_INTERCEPT_ACCESS_EXECUTE, 0x7000, 2).u16(EXCEPTION_VECTOR, 13)
                .u8(EXCEPTION_INFO, 1 << EXCEPTION_ERROR_CODE_VALID_BIT).u32(EXCEPTION_ERROR_CODE, 0x18)
                .u64(EXCEPTION_PARAMETER, 0).bytes(EXCEPTION_INSTRUCTION_BYTE_COUNT, EXCEPTION_INSTRUCTION_BYTES, 0x0f, 0x0b)
                .decode();
        ExceptionIntercept bp = (ExceptionIntercept) new MessageBuilder(HVMSG_X64_EXCEPTION_INTERCEPT)
                .header(HV_INTERCEPT_ACCESS_EXECUTE, 0x7000, 1).u16(EXCEPTION_VECTOR, 3)
                .u8(EXCEPTION_INFO, 1 << EXCEPTION_SOFTWARE_BIT).u32(EXCEPTION_ERROR_CODE, 0x99).decode();

        assertThat(gp.vector()).isEqualTo(13);
        assertThat(gp.errorCode()).isEqualTo(OptionalInt.of(0x18));
        assertThat(gp.instruction()).hasToString("0f 0b");
        assertThat(bp.errorCode()).isEmpty();
        assertThat(bp.software()).isTrue();
    }

    @Test
    void aMessageTypeThisBackendDoesNotHandleIsNamedWithItsNumber() {
        assertThatThrownBy(() -> new MessageBuilder(HVMSG_X64_SIPI_INTERCEPT).decode()).isInstanceOf(HypervisorException.class)
                .hasMessageContaining("hv_message type 0x80010009 (HVMSG_X64_SIPI_INTERCEPT)");
        assertThatThrownBy(() -> new MessageBuilder(0x1234_5678).decode())
                .hasMessageContaining("type 0x12345678 (a type the hypervisor headers do not name)");
        assertThatThrownBy(() -> new MessageBuilder(HVMSG_NONE).decode()).hasMessageContaining("0x00000000 (HVMSG_NONE)");
    }

    @Test
    void anAccessTypeOutsideTheFormatIsRefused() {
        MessageBuilder m = new MessageBuilder(HVMSG_X64_HALT).header(7, 0, 1);
        assertThatThrownBy(m::decode).hasMessageContaining("intercept access type 7");
    }

    @Test
    void instructionBytesCannotBeChangedFromOutside() {
        byte[] raw = {(byte) 0x8b, 0x07};
        InstructionBytes b = new InstructionBytes(raw);
        raw[0] = 0;
        b.toArray()[1] = 0;
        assertThat(b).hasToString("8b 07").isEqualTo(new InstructionBytes(new byte[] {(byte) 0x8b, 0x07}));
    }
}
