package dev.nimbus.mshv.abi;

import java.util.Set;

/**
 * The Microsoft Hypervisor's numbers the backend uses, under their C names: message types, hypercall codes,
 * hypercall status codes, partition property codes, intercept types and access kinds, interrupt types.
 * {@code MshvHeaderConformanceTest} compares every one with Linux's {@code include/hyperv/hv*.h}, except the
 * few in {@link #NOT_IN_LINUX_HEADERS}, which those headers lack (they come from the Hyper-V TLFS as
 * rust-vmm's {@code hv-headers} spell it). Register names are in {@link HvRegisterName}.
 */
public final class HvConstants {
    private HvConstants() {}

    // enum hv_message_type
    public static final int HVMSG_NONE = 0x00000000;
    public static final int HVMSG_UNMAPPED_GPA = 0x80000000;
    public static final int HVMSG_GPA_INTERCEPT = 0x80000001;
    public static final int HVMSG_TIMER_EXPIRED = 0x80000010;
    public static final int HVMSG_INVALID_VP_REGISTER_VALUE = 0x80000020;
    public static final int HVMSG_UNRECOVERABLE_EXCEPTION = 0x80000021;
    public static final int HVMSG_UNSUPPORTED_FEATURE = 0x80000022;
    public static final int HVMSG_X64_IO_PORT_INTERCEPT = 0x80010000;
    public static final int HVMSG_X64_MSR_INTERCEPT = 0x80010001;
    public static final int HVMSG_X64_CPUID_INTERCEPT = 0x80010002;
    public static final int HVMSG_X64_EXCEPTION_INTERCEPT = 0x80010003;
    public static final int HVMSG_X64_APIC_EOI = 0x80010004;
    public static final int HVMSG_X64_HALT = 0x80010007;
    public static final int HVMSG_X64_INTERRUPTION_DELIVERABLE = 0x80010008;
    public static final int HVMSG_X64_SIPI_INTERCEPT = 0x80010009;

    public static final int HV_MESSAGE_SIZE = 256;
    public static final int HV_MESSAGE_PAYLOAD_BYTE_COUNT = 240;

    // hypercall codes (MSHV_ROOT_HVCALL's code)
    public static final int HVCALL_GET_PARTITION_PROPERTY = 0x0044;
    public static final int HVCALL_SET_PARTITION_PROPERTY = 0x0045;
    public static final int HVCALL_INSTALL_INTERCEPT = 0x004d;
    public static final int HVCALL_GET_VP_REGISTERS = 0x0050;
    public static final int HVCALL_SET_VP_REGISTERS = 0x0051;
    public static final int HVCALL_TRANSLATE_VIRTUAL_ADDRESS = 0x0052;
    public static final int HVCALL_ASSERT_VIRTUAL_INTERRUPT = 0x0094;
    public static final int HVCALL_GET_VP_CPUID_VALUES = 0x00f4;

    // hypercall status (MSHV_ROOT_HVCALL's status)
    public static final int HV_STATUS_SUCCESS = 0x0;
    public static final int HV_STATUS_INVALID_HYPERCALL_CODE = 0x2;
    public static final int HV_STATUS_INVALID_HYPERCALL_INPUT = 0x3;
    public static final int HV_STATUS_INVALID_ALIGNMENT = 0x4;
    public static final int HV_STATUS_INVALID_PARAMETER = 0x5;
    public static final int HV_STATUS_ACCESS_DENIED = 0x6;
    public static final int HV_STATUS_INVALID_PARTITION_STATE = 0x7;
    public static final int HV_STATUS_OPERATION_DENIED = 0x8;
    public static final int HV_STATUS_UNKNOWN_PROPERTY = 0x9;
    public static final int HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE = 0xA;
    public static final int HV_STATUS_INSUFFICIENT_MEMORY = 0xB;
    public static final int HV_STATUS_INVALID_VP_INDEX = 0xE;
    public static final int HV_STATUS_INVALID_VP_STATE = 0x15;
    public static final int HV_STATUS_INVALID_REGISTER_VALUE = 0x50;

    // enum hv_partition_property_code
    public static final int HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS = 0x00010000;
    public static final int HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES = 0x00010001;
    public static final int HV_PARTITION_PROPERTY_UNIMPLEMENTED_MSR_ACTION = 0x00050017;
    public static final int HV_PARTITION_PROPERTY_PROCESSOR_XSAVE_FEATURES = 0x00060002;
    public static final int HV_PARTITION_PROPERTY_MAX_XSAVE_DATA_SIZE = 0x00060008;
    public static final int HV_PARTITION_PROPERTY_PROCESSOR_CLOCK_FREQUENCY = 0x00060009;

    // enum hv_intercept_type
    public static final int HV_INTERCEPT_TYPE_X64_IO_PORT = 0x00000000;
    public static final int HV_INTERCEPT_TYPE_X64_MSR = 0x00000001;
    public static final int HV_INTERCEPT_TYPE_X64_CPUID = 0x00000002;
    public static final int HV_INTERCEPT_TYPE_EXCEPTION = 0x00000003;
    public static final int HV_INTERCEPT_TYPE_MMIO = 0x00000005;
    public static final int HV_INTERCEPT_TYPE_X64_GLOBAL_CPUID = 0x00000006;
    public static final int HV_INTERCEPT_TYPE_X64_MSR_INDEX = 0x0000000C;

    // enum hv_intercept_access_type: an intercept message's intercept_access_type
    public static final int HV_INTERCEPT_ACCESS_READ = 0;
    public static final int HV_INTERCEPT_ACCESS_WRITE = 1;
    public static final int HV_INTERCEPT_ACCESS_EXECUTE = 2;

    // hv_input_install_intercept.access_type: a mask (not in Linux's headers)
    public static final int HV_INTERCEPT_ACCESS_MASK_NONE = 0x00;
    public static final int HV_INTERCEPT_ACCESS_MASK_READ = 0x01;
    public static final int HV_INTERCEPT_ACCESS_MASK_WRITE = 0x02;
    public static final int HV_INTERCEPT_ACCESS_MASK_EXECUTE = 0x04;

    // enum hv_interrupt_type (hv_interrupt_control.interrupt_type)
    public static final int HV_X64_INTERRUPT_TYPE_FIXED = 0x0000;
    public static final int HV_X64_INTERRUPT_TYPE_LOWESTPRIORITY = 0x0001;
    public static final int HV_X64_INTERRUPT_TYPE_SMI = 0x0002;
    public static final int HV_X64_INTERRUPT_TYPE_NMI = 0x0004;
    public static final int HV_X64_INTERRUPT_TYPE_INIT = 0x0005;
    public static final int HV_X64_INTERRUPT_TYPE_SIPI = 0x0006;
    public static final int HV_X64_INTERRUPT_TYPE_EXTINT = 0x0007;

    // HVCALL_TRANSLATE_VIRTUAL_ADDRESS's control flags (not in Linux's headers): which access to check the page
    // tables for, at the VP's current privilege unless told otherwise; whether to set the accessed and dirty bits
    public static final long HV_TRANSLATE_GVA_VALIDATE_READ = 0x0001;
    public static final long HV_TRANSLATE_GVA_VALIDATE_WRITE = 0x0002;
    public static final long HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS = 0x0010;

    // enum hv_translate_gva_result_code (not in Linux's headers): the translation's outcome when the hypercall
    // itself succeeded; 1-3 are the guest's page tables, 4-7 the partition's mapping of the GPA found
    public static final int HV_TRANSLATE_GVA_SUCCESS = 0;
    public static final int HV_TRANSLATE_GVA_PAGE_NOT_PRESENT = 1;
    public static final int HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION = 2;
    public static final int HV_TRANSLATE_GVA_INVALID_PAGE_TABLE_FLAGS = 3;
    public static final int HV_TRANSLATE_GVA_GPA_UNMAPPED = 4;
    public static final int HV_TRANSLATE_GVA_GPA_NO_READ_ACCESS = 5;
    public static final int HV_TRANSLATE_GVA_GPA_NO_WRITE_ACCESS = 6;
    public static final int HV_TRANSLATE_GVA_GPA_ILLEGAL_OVERLAY_ACCESS = 7;
    public static final int HV_TRANSLATE_GVA_INTERCEPT = 8;
    public static final int HV_TRANSLATE_GVA_GPA_UNACCEPTED = 9;

    /** The constants above that Linux's headers do not define (the conformance test compares them where a header does). */
    public static final Set<String> NOT_IN_LINUX_HEADERS = Set.of("HV_INTERCEPT_ACCESS_MASK_NONE",
            "HV_INTERCEPT_ACCESS_MASK_READ", "HV_INTERCEPT_ACCESS_MASK_WRITE", "HV_INTERCEPT_ACCESS_MASK_EXECUTE",
            "HV_TRANSLATE_GVA_VALIDATE_READ", "HV_TRANSLATE_GVA_VALIDATE_WRITE", "HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS",
            "HV_TRANSLATE_GVA_SUCCESS", "HV_TRANSLATE_GVA_PAGE_NOT_PRESENT", "HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION",
            "HV_TRANSLATE_GVA_INVALID_PAGE_TABLE_FLAGS", "HV_TRANSLATE_GVA_GPA_UNMAPPED", "HV_TRANSLATE_GVA_GPA_NO_READ_ACCESS",
            "HV_TRANSLATE_GVA_GPA_NO_WRITE_ACCESS", "HV_TRANSLATE_GVA_GPA_ILLEGAL_OVERLAY_ACCESS", "HV_TRANSLATE_GVA_INTERCEPT",
            "HV_TRANSLATE_GVA_GPA_UNACCEPTED");
}
