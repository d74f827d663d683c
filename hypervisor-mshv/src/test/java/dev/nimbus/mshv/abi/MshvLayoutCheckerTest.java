package dev.nimbus.mshv.abi;

import dev.nimbus.host.Ioctl;
import dev.nimbus.testsupport.abi.HeaderProbe;
import dev.nimbus.testsupport.abi.HeaderProbe.BitField;
import dev.nimbus.testsupport.abi.LayoutChecker;
import org.junit.jupiter.api.Test;

import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.U8;
import static dev.nimbus.host.CLayouts.array;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.member;
import static dev.nimbus.host.CLayouts.packedStruct;
import static dev.nimbus.host.CLayouts.struct;
import static org.assertj.core.api.Assertions.assertThat;

/** The checker against the MSHV headers notices a wrong layout, bit-field or ioctl number: it does not just agree. */
class MshvLayoutCheckerTest {
    @Test
    void movedFieldInAnInterceptMessageIsReported() throws Exception {
        // hv_x64_memory_intercept_message with the guest virtual and physical addresses swapped
        StructLayout wrong = packedStruct("hv_x64_memory_intercept_message",
                member("header", HvStructs.HV_X64_INTERCEPT_MESSAGE_HEADER), field("cache_type", U32),
                field("instruction_byte_count", U8), member("memory_access_info", HvStructs.HV_X64_MEMORY_ACCESS_INFO),
                field("tpr_priority", U8), field("reserved1", U8), field("guest_physical_address", U64),
                field("guest_virtual_address", U64), array("instruction_bytes", U8, 16));
        HeaderProbe.Answers answers = HeaderProbe.run(MshvHeaders.program(), LayoutChecker.probe(List.of(wrong)));

        assertThat(LayoutChecker.compare(List.of(wrong), answers)).containsExactlyInAnyOrder(
                "hv_x64_memory_intercept_message.guest_physical_address: offset 48 in Java, 56 in the header",
                "hv_x64_memory_intercept_message.guest_virtual_address: offset 56 in Java, 48 in the header");
    }

    @Test
    void movedFieldInAUapiStructIsReported() throws Exception {
        StructLayout wrong = struct("mshv_user_irqfd",
                field("fd", U32), field("resamplefd", U32), field("flags", U32), field("gsi", U32));
        HeaderProbe.Answers answers = HeaderProbe.run(MshvHeaders.program(), LayoutChecker.probe(List.of(wrong)));

        assertThat(LayoutChecker.compare(List.of(wrong), answers)).containsExactlyInAnyOrder(
                "mshv_user_irqfd.flags: offset 8 in Java, 12 in the header",
                "mshv_user_irqfd.gsi: offset 12 in Java, 8 in the header");
    }

    @Test
    void wrongBitFieldIsReported() throws Exception {
        // instruction_length taken as the high nibble (that is cr8)
        BitField wrong = new BitField("hv_x64_intercept_message_header", "instruction_length",
                HvStructs.INTERCEPT_INSTRUCTION_LENGTH, 4, 4);
        HeaderProbe.Answers answers = HeaderProbe.run(MshvHeaders.program(), HeaderProbe.bitFieldProbe(List.of(wrong)));

        assertThat(LayoutChecker.compareBitFields(List.of(wrong), answers)).containsExactly(
                "hv_x64_intercept_message_header.instruction_length: byte 4 mask 0xf0 in Java, byte 4 mask 0xf in the header");
    }

    @Test
    void wrongIoctlNumberIsReported() throws Exception {
        // rust-vmm's numbering before the uapi: MSHV_CREATE_VP was 0x04
        long old = Ioctl.iow(0xB8, 0x04, MshvStructs.MSHV_CREATE_VP.byteSize());
        HeaderProbe.Answers answers = HeaderProbe.run(MshvHeaders.program(), HeaderProbe.constantProbe(List.of("MSHV_CREATE_VP")));

        assertThat(LayoutChecker.compareConstants(Map.of("MSHV_CREATE_VP", old), answers, new ArrayList<>()))
                .containsExactly(String.format("MSHV_CREATE_VP: 0x%x in Java, 0x%x in the header", old, MshvIoctls.MSHV_CREATE_VP));
    }
}
