package dev.nimbus.mshv.abi;

/**
 * The hypervisor's names ({@code enum hv_register_name}) for the x64 registers the backend reads and writes
 * through {@code HVCALL_GET_VP_REGISTERS}/{@code HVCALL_SET_VP_REGISTERS}, each with its C name.
 *
 * <p>Linux's {@code include/hyperv/hvgdk_mini.h} defines only a few of them (the debug registers among
 * these); {@link #inLinuxHeaders} says which, and {@code MshvHeaderConformanceTest} compares those. The
 * others are from the Hyper-V TLFS as rust-vmm's {@code hv-headers} spell them: Linux's driver never names
 * a guest register itself, so its headers have no reason to.
 */
public enum HvRegisterName {
    RAX("HV_X64_REGISTER_RAX", 0x00020000),
    RCX("HV_X64_REGISTER_RCX", 0x00020001),
    RDX("HV_X64_REGISTER_RDX", 0x00020002),
    RBX("HV_X64_REGISTER_RBX", 0x00020003),
    RSP("HV_X64_REGISTER_RSP", 0x00020004),
    RBP("HV_X64_REGISTER_RBP", 0x00020005),
    RSI("HV_X64_REGISTER_RSI", 0x00020006),
    RDI("HV_X64_REGISTER_RDI", 0x00020007),
    R8("HV_X64_REGISTER_R8", 0x00020008),
    R9("HV_X64_REGISTER_R9", 0x00020009),
    R10("HV_X64_REGISTER_R10", 0x0002000A),
    R11("HV_X64_REGISTER_R11", 0x0002000B),
    R12("HV_X64_REGISTER_R12", 0x0002000C),
    R13("HV_X64_REGISTER_R13", 0x0002000D),
    R14("HV_X64_REGISTER_R14", 0x0002000E),
    R15("HV_X64_REGISTER_R15", 0x0002000F),
    RIP("HV_X64_REGISTER_RIP", 0x00020010),
    RFLAGS("HV_X64_REGISTER_RFLAGS", 0x00020011),

    CR0("HV_X64_REGISTER_CR0", 0x00040000),
    CR2("HV_X64_REGISTER_CR2", 0x00040001),
    CR3("HV_X64_REGISTER_CR3", 0x00040002),
    CR4("HV_X64_REGISTER_CR4", 0x00040003),
    CR8("HV_X64_REGISTER_CR8", 0x00040004),
    /** XCR0. */
    XFEM("HV_X64_REGISTER_XFEM", 0x00040005),

    XMM0("HV_X64_REGISTER_XMM0", 0x00030000),
    XMM1("HV_X64_REGISTER_XMM1", 0x00030001),
    XMM2("HV_X64_REGISTER_XMM2", 0x00030002),
    XMM3("HV_X64_REGISTER_XMM3", 0x00030003),
    XMM4("HV_X64_REGISTER_XMM4", 0x00030004),
    XMM5("HV_X64_REGISTER_XMM5", 0x00030005),
    XMM6("HV_X64_REGISTER_XMM6", 0x00030006),
    XMM7("HV_X64_REGISTER_XMM7", 0x00030007),
    XMM8("HV_X64_REGISTER_XMM8", 0x00030008),
    XMM9("HV_X64_REGISTER_XMM9", 0x00030009),
    XMM10("HV_X64_REGISTER_XMM10", 0x0003000A),
    XMM11("HV_X64_REGISTER_XMM11", 0x0003000B),
    XMM12("HV_X64_REGISTER_XMM12", 0x0003000C),
    XMM13("HV_X64_REGISTER_XMM13", 0x0003000D),
    XMM14("HV_X64_REGISTER_XMM14", 0x0003000E),
    XMM15("HV_X64_REGISTER_XMM15", 0x0003000F),
    /** The x87 registers ST0..ST7 (MM0..MM7), 80 bits each in the low bytes of the 16-byte value. */
    FP_MMX0("HV_X64_REGISTER_FP_MMX0", 0x00030010),
    FP_MMX1("HV_X64_REGISTER_FP_MMX1", 0x00030011),
    FP_MMX2("HV_X64_REGISTER_FP_MMX2", 0x00030012),
    FP_MMX3("HV_X64_REGISTER_FP_MMX3", 0x00030013),
    FP_MMX4("HV_X64_REGISTER_FP_MMX4", 0x00030014),
    FP_MMX5("HV_X64_REGISTER_FP_MMX5", 0x00030015),
    FP_MMX6("HV_X64_REGISTER_FP_MMX6", 0x00030016),
    FP_MMX7("HV_X64_REGISTER_FP_MMX7", 0x00030017),
    /** FCW, FSW, the abridged tag word, the last opcode and instruction pointer: {@code HvStructs.HV_X64_FP_CONTROL_STATUS_REGISTER}. */
    FP_CONTROL_STATUS("HV_X64_REGISTER_FP_CONTROL_STATUS", 0x00030018),
    /** The last data pointer and MXCSR: {@code HvStructs.HV_X64_XMM_CONTROL_STATUS_REGISTER}. */
    XMM_CONTROL_STATUS("HV_X64_REGISTER_XMM_CONTROL_STATUS", 0x00030019),

    DR0("HV_X64_REGISTER_DR0", 0x00050000, true),
    DR1("HV_X64_REGISTER_DR1", 0x00050001, true),
    DR2("HV_X64_REGISTER_DR2", 0x00050002, true),
    DR3("HV_X64_REGISTER_DR3", 0x00050003, true),
    DR6("HV_X64_REGISTER_DR6", 0x00050004, true),
    DR7("HV_X64_REGISTER_DR7", 0x00050005, true),

    ES("HV_X64_REGISTER_ES", 0x00060000),
    CS("HV_X64_REGISTER_CS", 0x00060001),
    SS("HV_X64_REGISTER_SS", 0x00060002),
    DS("HV_X64_REGISTER_DS", 0x00060003),
    FS("HV_X64_REGISTER_FS", 0x00060004),
    GS("HV_X64_REGISTER_GS", 0x00060005),
    LDTR("HV_X64_REGISTER_LDTR", 0x00060006),
    TR("HV_X64_REGISTER_TR", 0x00060007),
    IDTR("HV_X64_REGISTER_IDTR", 0x00070000),
    GDTR("HV_X64_REGISTER_GDTR", 0x00070001),

    TSC("HV_X64_REGISTER_TSC", 0x00080000),
    EFER("HV_X64_REGISTER_EFER", 0x00080001),
    KERNEL_GS_BASE("HV_X64_REGISTER_KERNEL_GS_BASE", 0x00080002),
    APIC_BASE("HV_X64_REGISTER_APIC_BASE", 0x00080003),
    PAT("HV_X64_REGISTER_PAT", 0x00080004),
    SYSENTER_CS("HV_X64_REGISTER_SYSENTER_CS", 0x00080005),
    SYSENTER_EIP("HV_X64_REGISTER_SYSENTER_EIP", 0x00080006),
    SYSENTER_ESP("HV_X64_REGISTER_SYSENTER_ESP", 0x00080007),
    STAR("HV_X64_REGISTER_STAR", 0x00080008),
    LSTAR("HV_X64_REGISTER_LSTAR", 0x00080009),
    CSTAR("HV_X64_REGISTER_CSTAR", 0x0008000A),
    SFMASK("HV_X64_REGISTER_SFMASK", 0x0008000B),
    MSR_MTRR_DEF_TYPE("HV_X64_REGISTER_MSR_MTRR_DEF_TYPE", 0x0008000E, true),
    TSC_AUX("HV_X64_REGISTER_TSC_AUX", 0x0008007B),
    MSR_IA32_MISC_ENABLE("HV_X64_REGISTER_MSR_IA32_MISC_ENABLE", 0x000800A0),

    /** An event to inject at the next entry (the hypervisor's form of KVM's pending exception/interrupt). */
    PENDING_INTERRUPTION("HV_REGISTER_PENDING_INTERRUPTION", 0x00010002),
    /** Interrupt shadow (after {@code sti}/{@code mov ss}) and NMI masking. */
    INTERRUPT_STATE("HV_REGISTER_INTERRUPT_STATE", 0x00010003),
    PENDING_EVENT0("HV_REGISTER_PENDING_EVENT0", 0x00010004),
    /**
     * Why the VP does not run although runnable: waiting for a start-up IPI, halted, idle
     * ({@code HvStructs.INTERNAL_ACTIVITY_*_BIT}). The hypervisor's counterpart of KVM's MP state.
     */
    INTERNAL_ACTIVITY_STATE("HV_REGISTER_INTERNAL_ACTIVITY_STATE", 0x00000004);

    private final String cName;
    private final int value;
    private final boolean inLinuxHeaders;

    HvRegisterName(String cName, int value) {
        this(cName, value, false);
    }

    HvRegisterName(String cName, int value, boolean inLinuxHeaders) {
        this.cName = cName;
        this.value = value;
        this.inLinuxHeaders = inLinuxHeaders;
    }

    /** The enumerator's name in C. */
    public String cName() {
        return cName;
    }

    /** What goes into {@code hv_register_assoc.name}. */
    public int value() {
        return value;
    }

    /** Whether Linux's {@code include/hyperv} headers define it (and the conformance test compares it). */
    public boolean inLinuxHeaders() {
        return inLinuxHeaders;
    }
}
