package dev.nimbus.kvm.abi;

import java.lang.foreign.StructLayout;
import java.util.List;

import static dev.nimbus.host.CLayouts.U16;
import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.U8;
import static dev.nimbus.host.CLayouts.array;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.member;
import static dev.nimbus.host.CLayouts.offset;
import static dev.nimbus.host.CLayouts.struct;
import static dev.nimbus.host.CLayouts.union;

/**
 * The x86-64 structs of {@code <asm/kvm.h>} (arch/x86/include/uapi/asm/kvm.h), each with the offsets of the
 * members the code touches right below it (see {@link KvmStructs} for the convention).
 */
public final class X86KvmStructs {
    private X86KvmStructs() {}

    public static final StructLayout KVM_REGS = struct("kvm_regs",
            field("rax", U64), field("rbx", U64), field("rcx", U64), field("rdx", U64),
            field("rsi", U64), field("rdi", U64), field("rsp", U64), field("rbp", U64),
            field("r8", U64), field("r9", U64), field("r10", U64), field("r11", U64),
            field("r12", U64), field("r13", U64), field("r14", U64), field("r15", U64),
            field("rip", U64), field("rflags", U64));
    public static final long REGS_RAX = offset(KVM_REGS, "rax");
    public static final long REGS_RBX = offset(KVM_REGS, "rbx");
    public static final long REGS_RCX = offset(KVM_REGS, "rcx");
    public static final long REGS_RDX = offset(KVM_REGS, "rdx");
    public static final long REGS_RSI = offset(KVM_REGS, "rsi");
    public static final long REGS_RDI = offset(KVM_REGS, "rdi");
    public static final long REGS_RSP = offset(KVM_REGS, "rsp");
    public static final long REGS_RBP = offset(KVM_REGS, "rbp");
    public static final long REGS_R8 = offset(KVM_REGS, "r8");
    public static final long REGS_R9 = offset(KVM_REGS, "r9");
    public static final long REGS_R10 = offset(KVM_REGS, "r10");
    public static final long REGS_R11 = offset(KVM_REGS, "r11");
    public static final long REGS_R12 = offset(KVM_REGS, "r12");
    public static final long REGS_R13 = offset(KVM_REGS, "r13");
    public static final long REGS_R14 = offset(KVM_REGS, "r14");
    public static final long REGS_R15 = offset(KVM_REGS, "r15");
    public static final long REGS_RIP = offset(KVM_REGS, "rip");
    public static final long REGS_RFLAGS = offset(KVM_REGS, "rflags");

    public static final StructLayout KVM_SEGMENT = struct("kvm_segment",
            field("base", U64), field("limit", U32), field("selector", U16), field("type", U8),
            field("present", U8), field("dpl", U8), field("db", U8), field("s", U8), field("l", U8),
            field("g", U8), field("avl", U8), field("unusable", U8), field("padding", U8));
    public static final long SEGMENT_BASE = offset(KVM_SEGMENT, "base");
    public static final long SEGMENT_LIMIT = offset(KVM_SEGMENT, "limit");
    public static final long SEGMENT_SELECTOR = offset(KVM_SEGMENT, "selector");
    public static final long SEGMENT_TYPE = offset(KVM_SEGMENT, "type");
    public static final long SEGMENT_PRESENT = offset(KVM_SEGMENT, "present");
    public static final long SEGMENT_DPL = offset(KVM_SEGMENT, "dpl");
    public static final long SEGMENT_DB = offset(KVM_SEGMENT, "db");
    public static final long SEGMENT_S = offset(KVM_SEGMENT, "s");
    public static final long SEGMENT_L = offset(KVM_SEGMENT, "l");
    public static final long SEGMENT_G = offset(KVM_SEGMENT, "g");
    public static final long SEGMENT_AVL = offset(KVM_SEGMENT, "avl");
    public static final long SEGMENT_UNUSABLE = offset(KVM_SEGMENT, "unusable");

    public static final StructLayout KVM_DTABLE = struct("kvm_dtable",
            field("base", U64), field("limit", U16), array("padding", U16, 3));
    public static final long DTABLE_BASE = offset(KVM_DTABLE, "base");
    public static final long DTABLE_LIMIT = offset(KVM_DTABLE, "limit");

    public static final StructLayout KVM_SREGS = struct("kvm_sregs",
            member("cs", KVM_SEGMENT), member("ds", KVM_SEGMENT), member("es", KVM_SEGMENT),
            member("fs", KVM_SEGMENT), member("gs", KVM_SEGMENT), member("ss", KVM_SEGMENT),
            member("tr", KVM_SEGMENT), member("ldt", KVM_SEGMENT),
            member("gdt", KVM_DTABLE), member("idt", KVM_DTABLE),
            field("cr0", U64), field("cr2", U64), field("cr3", U64), field("cr4", U64), field("cr8", U64),
            field("efer", U64), field("apic_base", U64), array("interrupt_bitmap", U64, 4));
    public static final long SREGS_CS = offset(KVM_SREGS, "cs");
    public static final long SREGS_DS = offset(KVM_SREGS, "ds");
    public static final long SREGS_ES = offset(KVM_SREGS, "es");
    public static final long SREGS_FS = offset(KVM_SREGS, "fs");
    public static final long SREGS_GS = offset(KVM_SREGS, "gs");
    public static final long SREGS_SS = offset(KVM_SREGS, "ss");
    public static final long SREGS_TR = offset(KVM_SREGS, "tr");
    public static final long SREGS_LDT = offset(KVM_SREGS, "ldt");
    public static final long SREGS_GDT = offset(KVM_SREGS, "gdt");
    public static final long SREGS_IDT = offset(KVM_SREGS, "idt");
    public static final long SREGS_CR0 = offset(KVM_SREGS, "cr0");
    public static final long SREGS_CR2 = offset(KVM_SREGS, "cr2");
    public static final long SREGS_CR3 = offset(KVM_SREGS, "cr3");
    public static final long SREGS_CR4 = offset(KVM_SREGS, "cr4");
    public static final long SREGS_CR8 = offset(KVM_SREGS, "cr8");
    public static final long SREGS_EFER = offset(KVM_SREGS, "efer");
    public static final long SREGS_APIC_BASE = offset(KVM_SREGS, "apic_base");
    public static final long SREGS_INTERRUPT_BITMAP = offset(KVM_SREGS, "interrupt_bitmap");

    public static final StructLayout KVM_FPU = struct("kvm_fpu",
            array("fpr", U8, 128), field("fcw", U16), field("fsw", U16), field("ftwx", U8), field("pad1", U8),
            field("last_opcode", U16), field("last_ip", U64), field("last_dp", U64), array("xmm", U8, 256),
            field("mxcsr", U32), field("pad2", U32));
    public static final long FPU_FPR = offset(KVM_FPU, "fpr");
    public static final long FPU_FCW = offset(KVM_FPU, "fcw");
    public static final long FPU_FSW = offset(KVM_FPU, "fsw");
    public static final long FPU_FTWX = offset(KVM_FPU, "ftwx");
    public static final long FPU_LAST_OPCODE = offset(KVM_FPU, "last_opcode");
    public static final long FPU_LAST_IP = offset(KVM_FPU, "last_ip");
    public static final long FPU_LAST_DP = offset(KVM_FPU, "last_dp");
    public static final long FPU_XMM = offset(KVM_FPU, "xmm");
    public static final long FPU_MXCSR = offset(KVM_FPU, "mxcsr");

    public static final StructLayout KVM_MSR_ENTRY = struct("kvm_msr_entry",
            field("index", U32), field("reserved", U32), field("data", U64));
    public static final long MSR_ENTRY_INDEX = offset(KVM_MSR_ENTRY, "index");
    public static final long MSR_ENTRY_DATA = offset(KVM_MSR_ENTRY, "data");

    /** The header of {@code struct kvm_msrs}; {@code entries[nmsrs]} follow. */
    public static final StructLayout KVM_MSRS = struct("kvm_msrs", field("nmsrs", U32), field("pad", U32));
    public static final long MSRS_NMSRS = offset(KVM_MSRS, "nmsrs");

    /** The header of {@code struct kvm_msr_list}; {@code indices[nmsrs]} follow. */
    public static final StructLayout KVM_MSR_LIST = struct("kvm_msr_list", field("nmsrs", U32));
    public static final long MSR_LIST_NMSRS = offset(KVM_MSR_LIST, "nmsrs");

    public static final StructLayout KVM_CPUID_ENTRY2 = struct("kvm_cpuid_entry2",
            field("function", U32), field("index", U32), field("flags", U32), field("eax", U32),
            field("ebx", U32), field("ecx", U32), field("edx", U32), array("padding", U32, 3));
    public static final long CPUID_ENTRY2_FUNCTION = offset(KVM_CPUID_ENTRY2, "function");
    public static final long CPUID_ENTRY2_INDEX = offset(KVM_CPUID_ENTRY2, "index");
    public static final long CPUID_ENTRY2_FLAGS = offset(KVM_CPUID_ENTRY2, "flags");
    public static final long CPUID_ENTRY2_EAX = offset(KVM_CPUID_ENTRY2, "eax");
    public static final long CPUID_ENTRY2_EBX = offset(KVM_CPUID_ENTRY2, "ebx");
    public static final long CPUID_ENTRY2_ECX = offset(KVM_CPUID_ENTRY2, "ecx");
    public static final long CPUID_ENTRY2_EDX = offset(KVM_CPUID_ENTRY2, "edx");

    /** The header of {@code struct kvm_cpuid2}; {@code entries[nent]} follow. */
    public static final StructLayout KVM_CPUID2 = struct("kvm_cpuid2", field("nent", U32), field("padding", U32));
    public static final long CPUID2_NENT = offset(KVM_CPUID2, "nent");

    public static final StructLayout KVM_LAPIC_STATE = struct("kvm_lapic_state", array("regs", U8, 1024));

    public static final StructLayout KVM_PIT_CONFIG = struct("kvm_pit_config", field("flags", U32), array("pad", U32, 15));
    public static final long PIT_CONFIG_FLAGS = offset(KVM_PIT_CONFIG, "flags");

    public static final StructLayout KVM_VCPU_EVENTS = struct("kvm_vcpu_events",
            member("exception", struct("exception", field("injected", U8), field("nr", U8),
                    field("has_error_code", U8), field("pending", U8), field("error_code", U32))),
            member("interrupt", struct("interrupt", field("injected", U8), field("nr", U8), field("soft", U8),
                    field("shadow", U8))),
            member("nmi", struct("nmi", field("injected", U8), field("pending", U8), field("masked", U8),
                    field("pad", U8))),
            field("sipi_vector", U32), field("flags", U32),
            member("smi", struct("smi", field("smm", U8), field("pending", U8), field("smm_inside_nmi", U8),
                    field("latched_init", U8))),
            member("triple_fault", struct("triple_fault", field("pending", U8))),
            array("reserved", U8, 26), field("exception_has_payload", U8), field("exception_payload", U64));

    /**
     * The legacy 4 KiB XSAVE area ({@code KVM_GET_XSAVE}); {@code KVM_GET_XSAVE2} and {@code KVM_SET_XSAVE} use
     * {@code extra[]} beyond it where {@code KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)} on the VM says the area is larger.
     */
    public static final StructLayout KVM_XSAVE = struct("kvm_xsave", array("region", U32, 1024));

    public static final StructLayout KVM_XCR = struct("kvm_xcr", field("xcr", U32), field("reserved", U32),
            field("value", U64));

    /** {@code KVM_GET_XCRS}/{@code KVM_SET_XCRS}: up to {@code KVM_MAX_XCRS} extended control registers. */
    public static final StructLayout KVM_XCRS = struct("kvm_xcrs", field("nr_xcrs", U32), field("flags", U32),
            array("xcrs", KVM_XCR, KvmConstants.KVM_MAX_XCRS), array("padding", U64, 16));
    public static final long XCRS_NR_XCRS = offset(KVM_XCRS, "nr_xcrs");
    public static final long XCRS_FLAGS = offset(KVM_XCRS, "flags");

    public static final StructLayout KVM_DEBUGREGS = struct("kvm_debugregs", array("db", U64, 4), field("dr6", U64),
            field("dr7", U64), field("flags", U64), array("reserved", U64, 9));
    public static final long DEBUGREGS_FLAGS = offset(KVM_DEBUGREGS, "flags");

    /** One 8259A of the in-kernel PIC pair, as {@code KVM_GET_IRQCHIP} reports it. */
    public static final StructLayout KVM_PIC_STATE = struct("kvm_pic_state",
            field("last_irr", U8), field("irr", U8), field("imr", U8), field("isr", U8), field("priority_add", U8),
            field("irq_base", U8), field("read_reg_select", U8), field("poll", U8), field("special_mask", U8),
            field("init_state", U8), field("auto_eoi", U8), field("rotate_on_auto_eoi", U8),
            field("special_fully_nested_mode", U8), field("init4", U8), field("elcr", U8), field("elcr_mask", U8));
    public static final long PIC_STATE_IMR = offset(KVM_PIC_STATE, "imr");

    /**
     * The in-kernel IOAPIC. Each {@code redirtbl} entry is a union of the 64-bit {@code bits} and bit-fields
     * over them; the code reads and writes {@code bits}, so the entries are {@code U64}s here.
     */
    public static final StructLayout KVM_IOAPIC_STATE = struct("kvm_ioapic_state",
            field("base_address", U64), field("ioregsel", U32), field("id", U32), field("irr", U32), field("pad", U32),
            array("redirtbl", U64, KvmConstants.KVM_IOAPIC_NUM_PINS));
    public static final long IOAPIC_STATE_BASE_ADDRESS = offset(KVM_IOAPIC_STATE, "base_address");
    public static final long IOAPIC_STATE_REDIRTBL = offset(KVM_IOAPIC_STATE, "redirtbl");

    /**
     * {@code KVM_GET_IRQCHIP}/{@code KVM_SET_IRQCHIP} ({@code <linux/kvm.h>}; the union's {@code pic} and
     * {@code ioapic} members exist on x86 only, so the struct is checked against the x86-64 headers).
     */
    public static final StructLayout KVM_IRQCHIP = struct("kvm_irqchip", field("chip_id", U32), field("pad", U32),
            member("chip", union("chip", array("dummy", U8, 512), member("pic", KVM_PIC_STATE),
                    member("ioapic", KVM_IOAPIC_STATE))));
    public static final long IRQCHIP_CHIP_ID = offset(KVM_IRQCHIP, "chip_id");
    public static final long IRQCHIP_PIC = offset(KVM_IRQCHIP, "chip", "pic");
    public static final long IRQCHIP_IOAPIC = offset(KVM_IRQCHIP, "chip", "ioapic");

    public static final StructLayout KVM_PIT_CHANNEL_STATE = struct("kvm_pit_channel_state",
            field("count", U32), field("latched_count", U16), field("count_latched", U8), field("status_latched", U8),
            field("status", U8), field("read_state", U8), field("write_state", U8), field("write_latch", U8),
            field("rw_mode", U8), field("mode", U8), field("bcd", U8), field("gate", U8),
            field("count_load_time", U64));
    public static final long PIT_CHANNEL_STATE_COUNT = offset(KVM_PIT_CHANNEL_STATE, "count");
    public static final long PIT_CHANNEL_STATE_MODE = offset(KVM_PIT_CHANNEL_STATE, "mode");

    /** {@code KVM_GET_PIT2}/{@code KVM_SET_PIT2}: the i8254's three channels and its flags. */
    public static final StructLayout KVM_PIT_STATE2 = struct("kvm_pit_state2",
            array("channels", KVM_PIT_CHANNEL_STATE, 3), field("flags", U32), array("reserved", U32, 9));
    public static final long PIT_STATE2_CHANNELS = offset(KVM_PIT_STATE2, "channels");
    public static final long PIT_STATE2_FLAGS = offset(KVM_PIT_STATE2, "flags");


    /** Every struct of this header, for the layout test. */
    public static final List<StructLayout> ALL = List.of(KVM_REGS, KVM_SEGMENT, KVM_DTABLE, KVM_SREGS, KVM_FPU,
            KVM_MSR_ENTRY, KVM_MSRS, KVM_MSR_LIST, KVM_CPUID_ENTRY2, KVM_CPUID2, KVM_LAPIC_STATE, KVM_PIT_CONFIG,
            KVM_VCPU_EVENTS, KVM_XSAVE, KVM_XCR, KVM_XCRS, KVM_DEBUGREGS, KVM_PIC_STATE, KVM_IOAPIC_STATE, KVM_IRQCHIP,
            KVM_PIT_CHANNEL_STATE, KVM_PIT_STATE2);
}
