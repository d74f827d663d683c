package dev.nimbus.mshv.intercept;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.nimbus.mshv.abi.HvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Builds the 256-byte {@code hv_message} a VP stops with, the way the hypervisor would, through the offsets of
 * the header-checked layouts ({@code HvStructs}): the stand-in for {@code MSHV_RUN_VP}'s output, since no
 * machine here has /dev/mshv. Public for the VP run loop's tests.
 */
public final class MessageBuilder {
    public final MemorySegment message = Arena.ofAuto().allocate(HV_MESSAGE);
    private final MemorySegment payload = message.asSlice(MESSAGE_PAYLOAD);

    public MessageBuilder(int type) {
        message.set(JAVA_INT_UNALIGNED, MESSAGE_HEADER + MESSAGE_HEADER_MESSAGE_TYPE, type);
        message.set(JAVA_BYTE, MESSAGE_HEADER + MESSAGE_HEADER_PAYLOAD_SIZE, (byte) 240);
    }

    /** The intercept header: VP 1, CS a 64-bit code segment (selector 0x10), RFLAGS 0x2, long mode at CPL 0. */
    public MessageBuilder header(int access, long rip, int instructionLength) {
        payload.set(JAVA_INT_UNALIGNED, INTERCEPT_VP_INDEX, 1);
        // the high nibble is cr8, which must not leak into the length
        payload.set(JAVA_BYTE, INTERCEPT_INSTRUCTION_LENGTH, (byte) (0xA0 | instructionLength));
        payload.set(JAVA_BYTE, INTERCEPT_ACCESS_TYPE, (byte) access);
        payload.set(JAVA_SHORT_UNALIGNED, INTERCEPT_EXECUTION_STATE,
                (short) (1 << EXECUTION_STATE_CR0_PE_BIT | 1 << EXECUTION_STATE_EFER_LMA_BIT));
        segment(INTERCEPT_CS, 0, 0x10, 0xb | 1 << SEGMENT_S_BIT | 1 << SEGMENT_P_BIT | 1 << SEGMENT_L_BIT | 1 << SEGMENT_G_BIT);
        payload.set(JAVA_LONG_UNALIGNED, INTERCEPT_RIP, rip);
        payload.set(JAVA_LONG_UNALIGNED, INTERCEPT_RFLAGS, 0x2);
        return this;
    }

    public MessageBuilder segment(long at, long base, int selector, int attributes) {
        payload.set(JAVA_LONG_UNALIGNED, at + SEGMENT_BASE, base);
        payload.set(JAVA_INT_UNALIGNED, at + SEGMENT_LIMIT, 0xFFFFF);
        payload.set(JAVA_SHORT_UNALIGNED, at + SEGMENT_SELECTOR, (short) selector);
        payload.set(JAVA_SHORT_UNALIGNED, at + SEGMENT_ATTRIBUTES, (short) attributes);
        return this;
    }

    public MessageBuilder u8(long at, int value) {
        payload.set(JAVA_BYTE, at, (byte) value);
        return this;
    }

    public MessageBuilder u16(long at, int value) {
        payload.set(JAVA_SHORT_UNALIGNED, at, (short) value);
        return this;
    }

    public MessageBuilder u32(long at, int value) {
        payload.set(JAVA_INT_UNALIGNED, at, value);
        return this;
    }

    public MessageBuilder u64(long at, long value) {
        payload.set(JAVA_LONG_UNALIGNED, at, value);
        return this;
    }

    public MessageBuilder bytes(long countAt, long at, int... bytes) {
        payload.set(JAVA_BYTE, countAt, (byte) bytes.length);
        for (int i = 0; i < bytes.length; i++) {
            payload.set(JAVA_BYTE, at + i, (byte) bytes[i]);
        }
        return this;
    }

    public HvIntercept decode() {
        return HvMessageDecoder.decode(message);
    }
}
