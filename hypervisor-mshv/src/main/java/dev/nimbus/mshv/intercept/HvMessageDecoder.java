package dev.nimbus.mshv.intercept;

import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvConstants;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;

import static dev.nimbus.mshv.abi.HvConstants.*;
import static dev.nimbus.mshv.abi.HvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Reads the 256-byte {@code hv_message} that {@code MSHV_RUN_VP} returns into an {@link HvIntercept}, through
 * the offsets of the layouts in {@code HvStructs} (checked against the hypervisor headers where Linux has
 * them). A message type this backend does not handle, an access type or size outside the format, or more
 * than 16 instruction bytes is a {@link HypervisorException} that names what it saw: the decoder never
 * guesses.
 */
public final class HvMessageDecoder {
    private static final long PAYLOAD = MESSAGE_PAYLOAD;
    private static final Map<Integer, String> TYPE_NAMES = typeNames();

    private HvMessageDecoder() {}

    /** The intercept in {@code message} (at least 256 bytes). */
    public static HvIntercept decode(MemorySegment message) {
        if (message.byteSize() < HV_MESSAGE.byteSize()) {
            throw new IllegalArgumentException("an hv_message is " + HV_MESSAGE.byteSize() + " bytes, not " + message.byteSize());
        }
        int type = message.get(JAVA_INT_UNALIGNED, MESSAGE_HEADER + MESSAGE_HEADER_MESSAGE_TYPE);
        MemorySegment p = message.asSlice(PAYLOAD, HV_MESSAGE_PAYLOAD_BYTE_COUNT);
        return switch (type) {
            case HVMSG_X64_IO_PORT_INTERCEPT -> ioPort(p);
            case HVMSG_UNMAPPED_GPA, HVMSG_GPA_INTERCEPT -> memory(p, type == HVMSG_UNMAPPED_GPA);
            case HVMSG_X64_HALT -> new HaltIntercept(header(p));
            case HVMSG_X64_CPUID_INTERCEPT -> new CpuidIntercept(header(p), u64(p, CPUID_RAX), u64(p, CPUID_RCX),
                    u64(p, CPUID_RDX), u64(p, CPUID_RBX), u64(p, CPUID_DEFAULT_RAX), u64(p, CPUID_DEFAULT_RCX),
                    u64(p, CPUID_DEFAULT_RDX), u64(p, CPUID_DEFAULT_RBX));
            case HVMSG_X64_MSR_INTERCEPT -> new MsrIntercept(header(p), p.get(JAVA_INT_UNALIGNED, MSR_NUMBER),
                    u64(p, MSR_RDX), u64(p, MSR_RAX));
            case HVMSG_X64_EXCEPTION_INTERCEPT -> exception(p);
            case HVMSG_UNRECOVERABLE_EXCEPTION -> new UnrecoverableException(header(p));
            case HVMSG_X64_APIC_EOI -> apicEoi(p);
            default -> throw new HypervisorException(String.format(
                    "mshv: the VP stopped with hv_message type 0x%08x (%s), which this backend does not handle",
                    type, TYPE_NAMES.getOrDefault(type, "a type the hypervisor headers do not name")));
        };
    }

    private static IoPortIntercept ioPort(MemorySegment p) {
        InterceptHeader h = header(p);
        int info = u8(p, IO_ACCESS_INFO);
        int size = info & IO_ACCESS_SIZE_MASK;
        if (size != 1 && size != 2 && size != 4) {
            throw new HypervisorException(String.format(
                    "mshv: I/O port intercept at port 0x%x with access size %d (access info 0x%02x); the format allows 1, 2 or 4",
                    Short.toUnsignedInt(p.get(JAVA_SHORT_UNALIGNED, IO_PORT_NUMBER)), size, info));
        }
        return new IoPortIntercept(h, Short.toUnsignedInt(p.get(JAVA_SHORT_UNALIGNED, IO_PORT_NUMBER)), size,
                (info >>> IO_STRING_OP_BIT & 1) != 0, (info >>> IO_REP_PREFIX_BIT & 1) != 0, u64(p, IO_RAX),
                u64(p, IO_RCX), u64(p, IO_RSI), u64(p, IO_RDI), segment(p, IO_DS), segment(p, IO_ES),
                instruction(p, IO_INSTRUCTION_BYTE_COUNT, IO_INSTRUCTION_BYTES, "I/O port"));
    }

    private static MemoryIntercept memory(MemorySegment p, boolean unmapped) {
        int info = u8(p, MEMORY_ACCESS_INFO);
        return new MemoryIntercept(header(p), unmapped, u64(p, MEMORY_GPA), u64(p, MEMORY_GVA),
                (info >>> MEMORY_ACCESS_GVA_VALID_BIT & 1) != 0, p.get(JAVA_INT_UNALIGNED, MEMORY_CACHE_TYPE),
                instruction(p, MEMORY_INSTRUCTION_BYTE_COUNT, MEMORY_INSTRUCTION_BYTES, "memory"));
    }

    private static ApicEoi apicEoi(MemorySegment p) {
        int vector = p.get(JAVA_INT_UNALIGNED, APIC_EOI_INTERRUPT_VECTOR);
        if (vector < 0 || vector > 0xff) {
            throw new HypervisorException(String.format("mshv: HVMSG_X64_APIC_EOI for vector 0x%x, which no x86 interrupt has",
                    Integer.toUnsignedLong(vector)));
        }
        return new ApicEoi(p.get(JAVA_INT_UNALIGNED, APIC_EOI_VP_INDEX), vector);
    }

    private static ExceptionIntercept exception(MemorySegment p) {
        int info = u8(p, EXCEPTION_INFO);
        return new ExceptionIntercept(header(p), Short.toUnsignedInt(p.get(JAVA_SHORT_UNALIGNED, EXCEPTION_VECTOR)),
                (info >>> EXCEPTION_ERROR_CODE_VALID_BIT & 1) != 0
                        ? OptionalInt.of(p.get(JAVA_INT_UNALIGNED, EXCEPTION_ERROR_CODE)) : OptionalInt.empty(),
                (info >>> EXCEPTION_SOFTWARE_BIT & 1) != 0, u64(p, EXCEPTION_PARAMETER),
                instruction(p, EXCEPTION_INSTRUCTION_BYTE_COUNT, EXCEPTION_INSTRUCTION_BYTES, "exception"));
    }

    private static InterceptHeader header(MemorySegment p) {
        return new InterceptHeader(p.get(JAVA_INT_UNALIGNED, INTERCEPT_VP_INDEX),
                u8(p, INTERCEPT_INSTRUCTION_LENGTH) & INSTRUCTION_LENGTH_MASK, AccessType.of(u8(p, INTERCEPT_ACCESS_TYPE)),
                Short.toUnsignedInt(p.get(JAVA_SHORT_UNALIGNED, INTERCEPT_EXECUTION_STATE)), segment(p, INTERCEPT_CS),
                u64(p, INTERCEPT_RIP), u64(p, INTERCEPT_RFLAGS));
    }

    private static Segment segment(MemorySegment p, long at) {
        return new Segment(u64(p, at + SEGMENT_BASE), p.get(JAVA_INT_UNALIGNED, at + SEGMENT_LIMIT),
                Short.toUnsignedInt(p.get(JAVA_SHORT_UNALIGNED, at + SEGMENT_SELECTOR)),
                Short.toUnsignedInt(p.get(JAVA_SHORT_UNALIGNED, at + SEGMENT_ATTRIBUTES)));
    }

    private static InstructionBytes instruction(MemorySegment p, long countAt, long bytesAt, String kind) {
        int count = u8(p, countAt);
        if (count > InstructionBytes.MAX) {
            throw new HypervisorException("mshv: " + kind + " intercept claims " + count
                    + " instruction bytes; the message has room for " + InstructionBytes.MAX);
        }
        return new InstructionBytes(p.asSlice(bytesAt, count).toArray(JAVA_BYTE));
    }

    private static int u8(MemorySegment p, long at) {
        return Byte.toUnsignedInt(p.get(JAVA_BYTE, at));
    }

    private static long u64(MemorySegment p, long at) {
        return p.get(JAVA_LONG_UNALIGNED, at);
    }

    private static Map<Integer, String> typeNames() {
        Map<Integer, String> m = new HashMap<>();
        for (Field f : HvConstants.class.getFields()) {
            if (f.getName().startsWith("HVMSG_")) {
                try {
                    m.put(f.getInt(null), f.getName());
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return Map.copyOf(m);
    }
}
