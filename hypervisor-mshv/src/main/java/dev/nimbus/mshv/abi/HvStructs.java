package dev.nimbus.mshv.abi;

import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.util.List;

import static dev.nimbus.host.CLayouts.U16;
import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.U8;
import static dev.nimbus.host.CLayouts.array;
import static dev.nimbus.host.CLayouts.bits;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.member;
import static dev.nimbus.host.CLayouts.offset;
import static dev.nimbus.host.CLayouts.packedStruct;
import static dev.nimbus.host.CLayouts.packedUnion;

/**
 * The Microsoft Hypervisor's own formats the backend reads and writes (all packed): the 256-byte message a VP
 * stops with, the x64 intercept messages inside it, register name/value pairs and the inputs of the
 * hypercalls passed through {@code MSHV_ROOT_HVCALL}. Offsets follow the {@code MshvStructs} convention
 * (struct without {@code hv_}/{@code hv_x64_}, then the member).
 *
 * <p>Two sources. {@link #IN_LINUX_HEADERS} are defined by Linux's {@code include/hyperv/hv*.h} (Debian's
 * {@code linux-headers-<version>-common}) and checked member by member, bit-fields included, by
 * {@code MshvHeaderConformanceTest}. {@link #NOT_IN_LINUX_HEADERS} are not in those headers (Linux's driver
 * forwards them to user space without reading them): written from the Hyper-V TLFS as rust-vmm's
 * {@code hv-headers} spell it, each built on the checked {@link #HV_X64_INTERCEPT_MESSAGE_HEADER} and
 * {@link #HV_X64_SEGMENT_REGISTER}; the test checks only that each fits the message payload.
 */
public final class HvStructs {
    private HvStructs() {}

    // ---- messages ----

    public static final UnionLayout HV_MESSAGE_FLAGS = packedUnion("hv_message_flags", field("asu8", U8));
    public static final UnionLayout HV_PORT_ID = packedUnion("hv_port_id", field("asu32", U32));

    public static final StructLayout HV_MESSAGE_HEADER = packedStruct("hv_message_header",
            field("message_type", U32), field("payload_size", U8), member("message_flags", HV_MESSAGE_FLAGS),
            array("reserved", U8, 2),
            packedUnion("$origin", field("sender", U64), member("port", HV_PORT_ID)));
    public static final long MESSAGE_HEADER_MESSAGE_TYPE = offset(HV_MESSAGE_HEADER, "message_type");
    public static final long MESSAGE_HEADER_PAYLOAD_SIZE = offset(HV_MESSAGE_HEADER, "payload_size");

    /** What {@code MSHV_RUN_VP} returns: a 16-byte header and a 240-byte payload. */
    public static final StructLayout HV_MESSAGE = packedStruct("hv_message",
            member("header", HV_MESSAGE_HEADER), packedUnion("u", array("payload", U64, 30)));
    public static final long MESSAGE_HEADER = offset(HV_MESSAGE, "header");
    public static final long MESSAGE_PAYLOAD = offset(HV_MESSAGE, "u");

    // ---- x64 register formats ----

    /** A segment register: base, limit, selector and the attribute bits (type, S, DPL, P, AVL, L, D/B, G). */
    public static final StructLayout HV_X64_SEGMENT_REGISTER = packedStruct("hv_x64_segment_register",
            field("base", U64), field("limit", U32), field("selector", U16),
            packedUnion("$attributes", field("attributes", U16)));
    public static final long SEGMENT_BASE = offset(HV_X64_SEGMENT_REGISTER, "base");
    public static final long SEGMENT_LIMIT = offset(HV_X64_SEGMENT_REGISTER, "limit");
    public static final long SEGMENT_SELECTOR = offset(HV_X64_SEGMENT_REGISTER, "selector");
    public static final long SEGMENT_ATTRIBUTES = offset(HV_X64_SEGMENT_REGISTER, "$attributes", "attributes");
    /** {@code attributes}: type bits 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15 (a descriptor's bits 40-55 without the limit). */
    public static final int SEGMENT_TYPE_MASK = 0xF;
    public static final int SEGMENT_S_BIT = 4;
    public static final int SEGMENT_DPL_SHIFT = 5;
    public static final int SEGMENT_P_BIT = 7;
    public static final int SEGMENT_AVL_BIT = 12;
    public static final int SEGMENT_L_BIT = 13;
    public static final int SEGMENT_DB_BIT = 14;
    public static final int SEGMENT_G_BIT = 15;

    /** GDTR/IDTR. */
    public static final StructLayout HV_X64_TABLE_REGISTER = packedStruct("hv_x64_table_register",
            array("pad", U16, 3), field("limit", U16), field("base", U64));
    public static final long TABLE_LIMIT = offset(HV_X64_TABLE_REGISTER, "limit");
    public static final long TABLE_BASE = offset(HV_X64_TABLE_REGISTER, "base");

    public static final StructLayout HV_U128 = packedStruct("hv_u128", field("low_part", U64), field("high_part", U64));

    /**
     * {@code HV_X64_REGISTER_FP_CONTROL_STATUS}: the x87 control, status and abridged tag words (FXSAVE's), the last
     * x87 opcode and, in long mode, the last instruction pointer (the 32-bit form splits it into EIP and CS).
     */
    public static final StructLayout HV_X64_FP_CONTROL_STATUS_REGISTER = packedStruct("hv_x64_fp_control_status_register",
            field("fp_control", U16), field("fp_status", U16), field("fp_tag", U8), field("reserved", U8),
            field("last_fp_op", U16), field("last_fp_rip", U64));
    public static final long FP_CONTROL = offset(HV_X64_FP_CONTROL_STATUS_REGISTER, "fp_control");
    public static final long FP_STATUS = offset(HV_X64_FP_CONTROL_STATUS_REGISTER, "fp_status");
    public static final long FP_TAG = offset(HV_X64_FP_CONTROL_STATUS_REGISTER, "fp_tag");
    public static final long FP_LAST_OP = offset(HV_X64_FP_CONTROL_STATUS_REGISTER, "last_fp_op");
    public static final long FP_LAST_RIP = offset(HV_X64_FP_CONTROL_STATUS_REGISTER, "last_fp_rip");

    /**
     * {@code HV_X64_REGISTER_XMM_CONTROL_STATUS}: the last x87 data pointer (long mode), MXCSR and MXCSR_MASK (the
     * mask is the processor's, read-only: written as 0).
     */
    public static final StructLayout HV_X64_XMM_CONTROL_STATUS_REGISTER = packedStruct("hv_x64_xmm_control_status_register",
            field("last_fp_rdp", U64), field("xmm_status_control", U32), field("xmm_status_control_mask", U32));
    public static final long XMM_LAST_RDP = offset(HV_X64_XMM_CONTROL_STATUS_REGISTER, "last_fp_rdp");
    public static final long XMM_MXCSR = offset(HV_X64_XMM_CONTROL_STATUS_REGISTER, "xmm_status_control");

    /** {@code HV_REGISTER_INTERNAL_ACTIVITY_STATE}'s bits: waiting for a start-up IPI, halted, idle; the rest reserved (zero). */
    public static final int INTERNAL_ACTIVITY_STARTUP_SUSPEND_BIT = 0;
    public static final int INTERNAL_ACTIVITY_HALT_SUSPEND_BIT = 1;
    public static final int INTERNAL_ACTIVITY_IDLE_SUSPEND_BIT = 2;

    /** Any register's value: 16 bytes, read as the width or format the register has. */
    public static final UnionLayout HV_REGISTER_VALUE = packedUnion("hv_register_value",
            member("reg128", HV_U128), field("reg64", U64), field("reg32", U32), field("reg16", U16), field("reg8", U8),
            member("segment", HV_X64_SEGMENT_REGISTER), member("table", HV_X64_TABLE_REGISTER),
            member("interrupt_state", packedUnion("hv_x64_interrupt_state_register", field("as_uint64", U64))),
            member("pending_interruption", packedUnion("hv_x64_pending_interruption_register", field("as_uint64", U64))));

    /** One register of a get/set-VP-registers hypercall: its name ({@code HvRegisterName}) and its value. */
    public static final StructLayout HV_REGISTER_ASSOC = packedStruct("hv_register_assoc",
            field("name", U32), field("reserved1", U32), field("reserved2", U64), member("value", HV_REGISTER_VALUE));
    public static final long REGISTER_ASSOC_NAME = offset(HV_REGISTER_ASSOC, "name");
    public static final long REGISTER_ASSOC_VALUE = offset(HV_REGISTER_ASSOC, "value");

    // ---- intercept messages ----

    public static final UnionLayout HV_X64_VP_EXECUTION_STATE = packedUnion("hv_x64_vp_execution_state",
            field("as_uint16", U16));
    /** {@code execution_state}: CPL in bits 0-1, CR0.PE bit 2, EFER.LMA bit 4. */
    public static final int EXECUTION_STATE_CPL_MASK = 0x3;
    public static final int EXECUTION_STATE_CR0_PE_BIT = 2;
    public static final int EXECUTION_STATE_EFER_LMA_BIT = 4;

    /**
     * What every x64 intercept message starts with: the VP, the instruction's length (low nibble of byte 4),
     * the access type, the execution state (CPL, CR0.PE, EFER.LMA...), CS, RIP and RFLAGS.
     */
    public static final StructLayout HV_X64_INTERCEPT_MESSAGE_HEADER = packedStruct("hv_x64_intercept_message_header",
            field("vp_index", U32), bits("instruction_length_cr8", U8), field("intercept_access_type", U8),
            member("execution_state", HV_X64_VP_EXECUTION_STATE), member("cs_segment", HV_X64_SEGMENT_REGISTER),
            field("rip", U64), field("rflags", U64));
    public static final long INTERCEPT_VP_INDEX = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "vp_index");
    /** The byte whose low four bits are {@code instruction_length} (high four: {@code cr8}). */
    public static final long INTERCEPT_INSTRUCTION_LENGTH = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "$instruction_length_cr8");
    /** {@code instruction_length}: the low four bits of {@link #INTERCEPT_INSTRUCTION_LENGTH}'s byte. */
    public static final int INSTRUCTION_LENGTH_MASK = 0x0F;
    public static final long INTERCEPT_ACCESS_TYPE = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "intercept_access_type");
    public static final long INTERCEPT_EXECUTION_STATE = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "execution_state");
    public static final long INTERCEPT_CS = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "cs_segment");
    public static final long INTERCEPT_RIP = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "rip");
    public static final long INTERCEPT_RFLAGS = offset(HV_X64_INTERCEPT_MESSAGE_HEADER, "rflags");

    public static final UnionLayout HV_X64_MEMORY_ACCESS_INFO = packedUnion("hv_x64_memory_access_info",
            field("as_uint8", U8));
    /** {@code memory_access_info}: the guest virtual address is valid (bit 0). */
    public static final int MEMORY_ACCESS_GVA_VALID_BIT = 0;

    /** An access to an unmapped GPA or a GPA intercept: the address, and up to 16 bytes of the instruction. */
    public static final StructLayout HV_X64_MEMORY_INTERCEPT_MESSAGE = packedStruct("hv_x64_memory_intercept_message",
            member("header", HV_X64_INTERCEPT_MESSAGE_HEADER), field("cache_type", U32),
            field("instruction_byte_count", U8), member("memory_access_info", HV_X64_MEMORY_ACCESS_INFO),
            field("tpr_priority", U8), field("reserved1", U8), field("guest_virtual_address", U64),
            field("guest_physical_address", U64), array("instruction_bytes", U8, 16));
    public static final long MEMORY_CACHE_TYPE = offset(HV_X64_MEMORY_INTERCEPT_MESSAGE, "cache_type");
    public static final long MEMORY_INSTRUCTION_BYTE_COUNT = offset(HV_X64_MEMORY_INTERCEPT_MESSAGE, "instruction_byte_count");
    public static final long MEMORY_ACCESS_INFO = offset(HV_X64_MEMORY_INTERCEPT_MESSAGE, "memory_access_info");
    public static final long MEMORY_GVA = offset(HV_X64_MEMORY_INTERCEPT_MESSAGE, "guest_virtual_address");
    public static final long MEMORY_GPA = offset(HV_X64_MEMORY_INTERCEPT_MESSAGE, "guest_physical_address");
    public static final long MEMORY_INSTRUCTION_BYTES = offset(HV_X64_MEMORY_INTERCEPT_MESSAGE, "instruction_bytes");

    /**
     * The guest's local APIC ended a level-triggered interrupt ({@code HVMSG_X64_APIC_EOI}): the VP and the vector.
     * No intercept header: this is the whole payload.
     */
    public static final StructLayout HV_X64_APIC_EOI_MESSAGE = packedStruct("hv_x64_apic_eoi_message",
            field("vp_index", U32), field("interrupt_vector", U32));
    public static final long APIC_EOI_VP_INDEX = offset(HV_X64_APIC_EOI_MESSAGE, "vp_index");
    public static final long APIC_EOI_INTERRUPT_VECTOR = offset(HV_X64_APIC_EOI_MESSAGE, "interrupt_vector");

    // ---- hypercall inputs ----

    public static final UnionLayout HV_INPUT_VTL = packedUnion("hv_input_vtl", field("as_uint8", U8));

    /** {@code HVCALL_GET_VP_REGISTERS}'s header; the register names ({@code u32 names[]}) follow it. */
    public static final StructLayout HV_INPUT_GET_VP_REGISTERS = packedStruct("hv_input_get_vp_registers",
            field("partition_id", U64), field("vp_index", U32), member("input_vtl", HV_INPUT_VTL),
            field("rsvd_z8", U8), field("rsvd_z16", U16));
    /** {@code HVCALL_SET_VP_REGISTERS}'s header; {@code hv_register_assoc elements[]} follow it. */
    public static final StructLayout HV_INPUT_SET_VP_REGISTERS = packedStruct("hv_input_set_vp_registers",
            field("partition_id", U64), field("vp_index", U32), member("input_vtl", HV_INPUT_VTL),
            field("rsvd_z8", U8), field("rsvd_z16", U16));
    public static final long VP_REGISTERS_PARTITION_ID = offset(HV_INPUT_SET_VP_REGISTERS, "partition_id");
    public static final long VP_REGISTERS_VP_INDEX = offset(HV_INPUT_SET_VP_REGISTERS, "vp_index");
    public static final long VP_REGISTERS_INPUT_VTL = offset(HV_INPUT_SET_VP_REGISTERS, "input_vtl");
    /** Where the names (get) or the name/value pairs (set) start. */
    public static final long VP_REGISTERS_ELEMENTS = HV_INPUT_SET_VP_REGISTERS.byteSize();

    public static final StructLayout HV_INPUT_GET_PARTITION_PROPERTY = packedStruct("hv_input_get_partition_property",
            field("partition_id", U64), field("property_code", U32), field("padding", U32));
    public static final StructLayout HV_OUTPUT_GET_PARTITION_PROPERTY = packedStruct("hv_output_get_partition_property",
            field("property_value", U64));
    public static final StructLayout HV_INPUT_SET_PARTITION_PROPERTY = packedStruct("hv_input_set_partition_property",
            field("partition_id", U64), field("property_code", U32), field("padding", U32), field("property_value", U64));
    public static final long PARTITION_PROPERTY_CODE = offset(HV_INPUT_SET_PARTITION_PROPERTY, "property_code");
    public static final long PARTITION_PROPERTY_VALUE = offset(HV_INPUT_SET_PARTITION_PROPERTY, "property_value");

    /** The interrupt's type (fixed, NMI, INIT...) and, in the next 32 bits, level-triggered and logical-destination bits. */
    public static final UnionLayout HV_INTERRUPT_CONTROL = packedUnion("hv_interrupt_control",
            field("as_uint64", U64), packedStruct("$fields", field("interrupt_type", U32), bits("modes", U32)));
    /** In {@code as_uint64}: level-triggered (bit 32), logical destination mode (bit 33). */
    public static final int INTERRUPT_CONTROL_LEVEL_TRIGGERED_BIT = 32;
    public static final int INTERRUPT_CONTROL_LOGICAL_DEST_MODE_BIT = 33;

    /** {@code HVCALL_ASSERT_VIRTUAL_INTERRUPT}: an interrupt for the local APIC with ID {@code dest_addr}. */
    public static final StructLayout HV_INPUT_ASSERT_VIRTUAL_INTERRUPT = packedStruct("hv_input_assert_virtual_interrupt",
            field("partition_id", U64), member("control", HV_INTERRUPT_CONTROL), field("dest_addr", U64),
            field("vector", U32), field("target_vtl", U8), field("rsvd_z0", U8), field("rsvd_z1", U16));
    public static final long ASSERT_INTERRUPT_CONTROL = offset(HV_INPUT_ASSERT_VIRTUAL_INTERRUPT, "control");
    public static final long ASSERT_INTERRUPT_DEST_ADDR = offset(HV_INPUT_ASSERT_VIRTUAL_INTERRUPT, "dest_addr");
    public static final long ASSERT_INTERRUPT_VECTOR = offset(HV_INPUT_ASSERT_VIRTUAL_INTERRUPT, "vector");

    /** An intercept's parameter: the port, CPUID leaf, exception vector or MSR it applies to. */
    public static final UnionLayout HV_INTERCEPT_PARAMETERS = packedUnion("hv_intercept_parameters",
            field("as_uint64", U64), field("io_port", U16), field("cpuid_index", U32), field("apic_write_mask", U32),
            field("exception_vector", U16), field("msr_index", U32));

    // ---- not in Linux's headers (see the class comment) ----

    /**
     * {@code MSHV_VP_STATE_LAPIC}'s data (the hypercall's {@code HV_GET_SET_VP_STATE_LAPIC_STATE}), the x64 form of
     * the hypervisor's local interrupt controller state: the xAPIC registers by name, not at their MMIO offsets,
     * with no TPR (that is CR8) and no PPR, APR or EOI. At the start of the page-sized buffer.
     */
    public static final StructLayout HV_LOCAL_INTERRUPT_CONTROLLER_STATE = packedStruct("hv_local_interrupt_controller_state",
            field("apic_id", U32), field("apic_version", U32), field("apic_ldr", U32), field("apic_dfr", U32),
            field("apic_spurious", U32), array("apic_isr", U32, 8), array("apic_tmr", U32, 8), array("apic_irr", U32, 8),
            field("apic_esr", U32), field("apic_icr_high", U32), field("apic_icr_low", U32), field("apic_lvt_timer", U32),
            field("apic_lvt_thermal", U32), field("apic_lvt_perfmon", U32), field("apic_lvt_lint0", U32),
            field("apic_lvt_lint1", U32), field("apic_lvt_error", U32), field("apic_lvt_cmci", U32),
            field("apic_error_status", U32), field("apic_initial_count", U32), field("apic_counter_value", U32),
            field("apic_divide_configuration", U32), field("apic_remote_read", U32));

    /** One query of {@code HVCALL_GET_VP_CPUID_VALUES}: leaf (EAX), subleaf (ECX), and the XCR0/XSS to answer for. */
    public static final StructLayout HV_CPUID_LEAF_INFO = packedStruct("hv_cpuid_leaf_info",
            field("eax", U32), field("ecx", U32), field("xfem", U64), field("xss", U64));
    public static final long CPUID_LEAF_INFO_EAX = offset(HV_CPUID_LEAF_INFO, "eax");
    public static final long CPUID_LEAF_INFO_ECX = offset(HV_CPUID_LEAF_INFO, "ecx");

    /** {@code HVCALL_GET_VP_CPUID_VALUES} (a rep hypercall): its header; one {@link #HV_CPUID_LEAF_INFO} per rep follows. */
    public static final StructLayout HV_INPUT_GET_VP_CPUID_VALUES = packedStruct("hv_input_get_vp_cpuid_values",
            field("partition_id", U64), field("vp_index", U32),
            packedUnion("flags", field("as_uint32", U32)), field("reserved", U32), field("padding", U32));
    public static final long GET_CPUID_VALUES_VP_INDEX = offset(HV_INPUT_GET_VP_CPUID_VALUES, "vp_index");
    public static final long GET_CPUID_VALUES_FLAGS = offset(HV_INPUT_GET_VP_CPUID_VALUES, "flags");
    /** Where the queries start. */
    public static final long GET_CPUID_VALUES_LEAVES = HV_INPUT_GET_VP_CPUID_VALUES.byteSize();
    /** {@code flags}: answer for the VP's own XCR0 and XSS (bit 0), with the values registered for the partition applied (bit 1). */
    public static final int GET_CPUID_VALUES_USE_VP_XFEM_XSS_BIT = 0;
    public static final int GET_CPUID_VALUES_APPLY_REGISTERED_VALUES_BIT = 1;

    /** One rep's output: EAX, EBX, ECX, EDX. */
    public static final StructLayout HV_OUTPUT_GET_VP_CPUID_VALUES = packedStruct("hv_output_get_vp_cpuid_values",
            field("eax", U32), field("ebx", U32), field("ecx", U32), field("edx", U32));

    /** {@code HVCALL_INSTALL_INTERCEPT}: which accesses ({@code HV_INTERCEPT_ACCESS_MASK_*}) of which kind to intercept. */
    public static final StructLayout HV_INPUT_INSTALL_INTERCEPT = packedStruct("hv_input_install_intercept",
            field("partition_id", U64), field("access_type", U32), field("intercept_type", U32),
            member("intercept_parameter", HV_INTERCEPT_PARAMETERS));
    public static final long INSTALL_INTERCEPT_ACCESS_TYPE = offset(HV_INPUT_INSTALL_INTERCEPT, "access_type");
    public static final long INSTALL_INTERCEPT_INTERCEPT_TYPE = offset(HV_INPUT_INSTALL_INTERCEPT, "intercept_type");
    public static final long INSTALL_INTERCEPT_PARAMETER = offset(HV_INPUT_INSTALL_INTERCEPT, "intercept_parameter");

    /** Bits 0-2 the access size in bytes (1, 2 or 4), bit 3 a string instruction, bit 4 a REP prefix. */
    public static final UnionLayout HV_X64_IO_PORT_ACCESS_INFO = packedUnion("hv_x64_io_port_access_info",
            field("as_uint8", U8));
    public static final int IO_ACCESS_SIZE_MASK = 0x7;
    public static final int IO_STRING_OP_BIT = 3;
    public static final int IO_REP_PREFIX_BIT = 4;

    /** An {@code in}/{@code out}/{@code ins}/{@code outs}: the port, RAX and, for the string forms, the registers they use. */
    public static final StructLayout HV_X64_IO_PORT_INTERCEPT_MESSAGE = packedStruct("hv_x64_io_port_intercept_message",
            member("header", HV_X64_INTERCEPT_MESSAGE_HEADER), field("port_number", U16),
            member("access_info", HV_X64_IO_PORT_ACCESS_INFO), field("instruction_byte_count", U8),
            field("reserved", U32), field("rax", U64), array("instruction_bytes", U8, 16),
            member("ds_segment", HV_X64_SEGMENT_REGISTER), member("es_segment", HV_X64_SEGMENT_REGISTER),
            field("rcx", U64), field("rsi", U64), field("rdi", U64));
    public static final long IO_PORT_NUMBER = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "port_number");
    public static final long IO_ACCESS_INFO = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "access_info");
    public static final long IO_INSTRUCTION_BYTE_COUNT = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "instruction_byte_count");
    public static final long IO_RAX = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "rax");
    public static final long IO_INSTRUCTION_BYTES = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "instruction_bytes");
    public static final long IO_DS = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "ds_segment");
    public static final long IO_ES = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "es_segment");
    public static final long IO_RCX = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "rcx");
    public static final long IO_RSI = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "rsi");
    public static final long IO_RDI = offset(HV_X64_IO_PORT_INTERCEPT_MESSAGE, "rdi");

    /** A {@code cpuid}: the leaf and subleaf (RAX, RCX) and what the hypervisor would answer by default. */
    public static final StructLayout HV_X64_CPUID_INTERCEPT_MESSAGE = packedStruct("hv_x64_cpuid_intercept_message",
            member("header", HV_X64_INTERCEPT_MESSAGE_HEADER), field("rax", U64), field("rcx", U64), field("rdx", U64),
            field("rbx", U64), field("default_result_rax", U64), field("default_result_rcx", U64),
            field("default_result_rdx", U64), field("default_result_rbx", U64));
    public static final long CPUID_RAX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "rax");
    public static final long CPUID_RCX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "rcx");
    public static final long CPUID_RDX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "rdx");
    public static final long CPUID_RBX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "rbx");
    public static final long CPUID_DEFAULT_RAX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "default_result_rax");
    public static final long CPUID_DEFAULT_RCX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "default_result_rcx");
    public static final long CPUID_DEFAULT_RDX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "default_result_rdx");
    public static final long CPUID_DEFAULT_RBX = offset(HV_X64_CPUID_INTERCEPT_MESSAGE, "default_result_rbx");

    /** A {@code rdmsr}/{@code wrmsr}: the MSR and EDX:EAX. */
    public static final StructLayout HV_X64_MSR_INTERCEPT_MESSAGE = packedStruct("hv_x64_msr_intercept_message",
            member("header", HV_X64_INTERCEPT_MESSAGE_HEADER), field("msr_number", U32), field("reserved", U32),
            field("rdx", U64), field("rax", U64));
    public static final long MSR_NUMBER = offset(HV_X64_MSR_INTERCEPT_MESSAGE, "msr_number");
    public static final long MSR_RDX = offset(HV_X64_MSR_INTERCEPT_MESSAGE, "rdx");
    public static final long MSR_RAX = offset(HV_X64_MSR_INTERCEPT_MESSAGE, "rax");

    /** Bit 0 an error code is valid, bit 1 a software exception ({@code int n}, {@code int3}, {@code into}). */
    public static final UnionLayout HV_X64_EXCEPTION_INFO = packedUnion("hv_x64_exception_info", field("as_uint8", U8));
    public static final int EXCEPTION_ERROR_CODE_VALID_BIT = 0;
    public static final int EXCEPTION_SOFTWARE_BIT = 1;

    /** An intercepted exception: vector, error code, parameter (CR2 for #PF), instruction bytes and the GP registers. */
    public static final StructLayout HV_X64_EXCEPTION_INTERCEPT_MESSAGE = packedStruct("hv_x64_exception_intercept_message",
            member("header", HV_X64_INTERCEPT_MESSAGE_HEADER), field("exception_vector", U16),
            member("exception_info", HV_X64_EXCEPTION_INFO), field("instruction_byte_count", U8),
            field("error_code", U32), field("exception_parameter", U64), field("reserved", U64),
            array("instruction_bytes", U8, 16), member("ds_segment", HV_X64_SEGMENT_REGISTER),
            member("ss_segment", HV_X64_SEGMENT_REGISTER), field("rax", U64), field("rcx", U64), field("rdx", U64),
            field("rbx", U64), field("rsp", U64), field("rbp", U64), field("rsi", U64), field("rdi", U64),
            field("r8", U64), field("r9", U64), field("r10", U64), field("r11", U64), field("r12", U64),
            field("r13", U64), field("r14", U64), field("r15", U64));
    public static final long EXCEPTION_VECTOR = offset(HV_X64_EXCEPTION_INTERCEPT_MESSAGE, "exception_vector");
    public static final long EXCEPTION_INFO = offset(HV_X64_EXCEPTION_INTERCEPT_MESSAGE, "exception_info");
    public static final long EXCEPTION_ERROR_CODE = offset(HV_X64_EXCEPTION_INTERCEPT_MESSAGE, "error_code");
    public static final long EXCEPTION_PARAMETER = offset(HV_X64_EXCEPTION_INTERCEPT_MESSAGE, "exception_parameter");
    public static final long EXCEPTION_INSTRUCTION_BYTE_COUNT = offset(HV_X64_EXCEPTION_INTERCEPT_MESSAGE, "instruction_byte_count");
    public static final long EXCEPTION_INSTRUCTION_BYTES = offset(HV_X64_EXCEPTION_INTERCEPT_MESSAGE, "instruction_bytes");

    /** The guest cannot continue (a triple fault among them): the header alone. */
    public static final StructLayout HV_X64_UNRECOVERABLE_EXCEPTION_MESSAGE = packedStruct(
            "hv_x64_unrecoverable_exception_message", member("header", HV_X64_INTERCEPT_MESSAGE_HEADER));

    /** A {@code hlt} with interrupts the local APIC cannot deliver: the header alone. */
    public static final StructLayout HV_X64_HALT_MESSAGE = packedStruct("hv_x64_halt_message",
            member("header", HV_X64_INTERCEPT_MESSAGE_HEADER));

    /**
     * {@code HVCALL_TRANSLATE_VIRTUAL_ADDRESS}: the guest virtual page to translate through VP {@code vp_index}'s
     * page tables, as it stands, and {@code HV_TRANSLATE_GVA_*} control flags (the access to check).
     */
    public static final StructLayout HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS = packedStruct("hv_input_translate_virtual_address",
            field("partition_id", U64), field("vp_index", U32), field("padding", U32), field("control_flags", U64),
            field("gva_page", U64));
    public static final long TRANSLATE_VP_INDEX = offset(HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS, "vp_index");
    public static final long TRANSLATE_CONTROL_FLAGS = offset(HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS, "control_flags");
    public static final long TRANSLATE_GVA_PAGE = offset(HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS, "gva_page");

    /** The outcome ({@code HV_TRANSLATE_GVA_*} result code) and, in the next 32 bits, the page's cache type and overlay bit. */
    public static final UnionLayout HV_TRANSLATE_GVA_RESULT = packedUnion("hv_translate_gva_result",
            field("as_uint64", U64), packedStruct("$fields", field("result_code", U32), bits("cache_type_overlay_page", U32)));

    /** Its output: the outcome, and the guest physical page, meaningful on success. */
    public static final StructLayout HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS = packedStruct("hv_output_translate_virtual_address",
            member("translation_result", HV_TRANSLATE_GVA_RESULT), field("gpa_page", U64));
    public static final long TRANSLATE_RESULT_CODE = offset(HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS, "translation_result", "$fields", "result_code");
    public static final long TRANSLATE_GPA_PAGE = offset(HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS, "gpa_page");

    /** Every layout Linux's {@code include/hyperv} headers define, checked against them. */
    public static final List<StructLayout> IN_LINUX_HEADERS = List.of(HV_MESSAGE_HEADER, HV_MESSAGE,
            HV_X64_SEGMENT_REGISTER, HV_X64_TABLE_REGISTER, HV_U128, HV_REGISTER_ASSOC, HV_X64_INTERCEPT_MESSAGE_HEADER,
            HV_X64_MEMORY_INTERCEPT_MESSAGE, HV_X64_APIC_EOI_MESSAGE, HV_INPUT_GET_VP_REGISTERS, HV_INPUT_SET_VP_REGISTERS,
            HV_INPUT_GET_PARTITION_PROPERTY, HV_OUTPUT_GET_PARTITION_PROPERTY, HV_INPUT_SET_PARTITION_PROPERTY,
            HV_INPUT_ASSERT_VIRTUAL_INTERRUPT);

    /** The layouts those headers lack (see the class comment). */
    public static final List<StructLayout> NOT_IN_LINUX_HEADERS = List.of(HV_X64_FP_CONTROL_STATUS_REGISTER,
            HV_X64_XMM_CONTROL_STATUS_REGISTER, HV_LOCAL_INTERRUPT_CONTROLLER_STATE, HV_CPUID_LEAF_INFO,
            HV_INPUT_GET_VP_CPUID_VALUES, HV_OUTPUT_GET_VP_CPUID_VALUES, HV_INPUT_INSTALL_INTERCEPT,
            HV_X64_IO_PORT_INTERCEPT_MESSAGE, HV_X64_CPUID_INTERCEPT_MESSAGE, HV_X64_MSR_INTERCEPT_MESSAGE,
            HV_X64_EXCEPTION_INTERCEPT_MESSAGE, HV_X64_UNRECOVERABLE_EXCEPTION_MESSAGE, HV_X64_HALT_MESSAGE,
            HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS, HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS);
}
