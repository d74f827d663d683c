package dev.nimbus.kvm.abi;

/**
 * The numeric constants of the KVM headers that Nimbus uses (capabilities, exit reasons, flags, device
 * types and attributes), each under its C name, as compile-time constants so that exit decoding can
 * {@code switch} on them. {@code KvmHeaderConformanceTest} compares every {@code KVM_*} field here with
 * the kernel's headers for the three architectures (and {@code VGIC_*}, which the arm64 header names so).
 */
public final class KvmConstants {
    private KvmConstants() {}

    public static final int KVM_API_VERSION = 12;

    // capabilities (KVM_CHECK_EXTENSION)
    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_EXT_CPUID = 7;
    public static final int KVM_CAP_NR_VCPUS = 9;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_MP_STATE = 14;
    public static final int KVM_CAP_IRQ_ROUTING = 25;
    public static final int KVM_CAP_IRQFD = 32;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_PIT_STATE2 = 35;
    public static final int KVM_CAP_IOEVENTFD = 36;
    public static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int KVM_CAP_ADJUST_CLOCK = 39;
    public static final int KVM_CAP_VCPU_EVENTS = 41;
    public static final int KVM_CAP_DEBUGREGS = 50;
    public static final int KVM_CAP_XSAVE = 55;
    public static final int KVM_CAP_XCRS = 56;
    public static final int KVM_CAP_TSC_CONTROL = 60;
    public static final int KVM_CAP_GET_TSC_KHZ = 61;
    public static final int KVM_CAP_MAX_VCPUS = 66;
    public static final int KVM_CAP_ONE_REG = 70;
    public static final int KVM_CAP_SIGNAL_MSI = 77;
    public static final int KVM_CAP_READONLY_MEM = 81;
    public static final int KVM_CAP_DEVICE_CTRL = 89;
    public static final int KVM_CAP_ARM_PSCI_0_2 = 102;
    public static final int KVM_CAP_IOEVENTFD_ANY_LENGTH = 122;
    public static final int KVM_CAP_MAX_VCPU_ID = 128;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;
    /** x86: local APICs in the kernel, the IOAPIC and PIC in user space; {@code args[0]} GSIs kept for the IOAPIC. */
    public static final int KVM_CAP_SPLIT_IRQCHIP = 121;
    public static final int KVM_CAP_ARM_VM_IPA_SIZE = 165;
    /** x86: on the VM fd, the size of the XSAVE area {@code KVM_GET_XSAVE2}/{@code KVM_SET_XSAVE} move (at least 4096). */
    public static final int KVM_CAP_XSAVE2 = 208;

    // exit reasons (kvm_run.exit_reason)
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HYPERCALL = 3;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_NMI = 16;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;
    /** The split irqchip: the guest's EOI of a level-triggered vector a user-space IOAPIC route carries. */
    public static final int KVM_EXIT_IOAPIC_EOI = 26;
    public static final int KVM_EXIT_RISCV_SBI = 35;
    public static final int KVM_EXIT_RISCV_CSR = 36;

    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;

    public static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int KVM_SYSTEM_EVENT_RESET = 2;
    public static final int KVM_SYSTEM_EVENT_CRASH = 3;

    // memory slots, irqfd, ioeventfd, routing
    public static final int KVM_MEM_LOG_DIRTY_PAGES = 1;
    public static final int KVM_MEM_READONLY = 2;
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;
    public static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    public static final int KVM_IRQ_ROUTING_MSI = 2;
    public static final int KVM_MSI_VALID_DEVID = 1;

    // devices
    public static final int KVM_CREATE_DEVICE_TEST = 1;
    public static final int KVM_DEV_TYPE_ARM_VGIC_V3 = 7;
    public static final int KVM_DEV_TYPE_ARM_VGIC_ITS = 8;
    public static final int KVM_DEV_TYPE_RISCV_AIA = 11;

    // x86-64
    public static final int KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;
    public static final int KVM_PIT_SPEAKER_DUMMY = 1;
    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;
    public static final int KVM_IOAPIC_NUM_PINS = 24;
    public static final int KVM_MAX_XCRS = 16;

    // AArch64
    public static final int KVM_ARM_VCPU_POWER_OFF = 0;
    public static final int KVM_ARM_VCPU_PSCI_0_2 = 2;
    public static final int KVM_DEV_ARM_VGIC_GRP_ADDR = 0;
    public static final int KVM_DEV_ARM_VGIC_GRP_DIST_REGS = 1;
    public static final int KVM_DEV_ARM_VGIC_GRP_NR_IRQS = 3;
    public static final int KVM_DEV_ARM_VGIC_GRP_CTRL = 4;
    public static final int KVM_DEV_ARM_VGIC_GRP_REDIST_REGS = 5;
    public static final int KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS = 6;
    public static final int KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO = 7;
    public static final int KVM_DEV_ARM_VGIC_GRP_ITS_REGS = 8;
    public static final int KVM_DEV_ARM_VGIC_CTRL_INIT = 0;
    public static final int KVM_DEV_ARM_ITS_SAVE_TABLES = 1;
    public static final int KVM_DEV_ARM_ITS_RESTORE_TABLES = 2;
    public static final int KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES = 3;
    /** The vCPU's MPIDR affinity (Aff3.Aff2.Aff1.Aff0, a byte each) in a redistributor or CPU-interface attr. */
    public static final int KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT = 32;
    public static final long KVM_DEV_ARM_VGIC_V3_MPIDR_MASK = 0xffffffffL << 32;
    public static final int KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT = 10;
    public static final int VGIC_LEVEL_INFO_LINE_LEVEL = 0;
    public static final int KVM_DEV_ARM_VGIC_SYSREG_INSTR_MASK = 0xffff;
    public static final int KVM_VGIC_V3_ADDR_TYPE_DIST = 2;
    public static final int KVM_VGIC_V3_ADDR_TYPE_REDIST = 3;
    public static final int KVM_VGIC_ITS_ADDR_TYPE = 4;
    public static final int KVM_ARM_IRQ_TYPE_SHIFT = 24;
    public static final int KVM_ARM_IRQ_TYPE_SPI = 1;
    public static final long KVM_REG_ARM64 = 0x6000000000000000L;
    public static final long KVM_REG_ARM_CORE = 0x0010L << 16;
    public static final long KVM_REG_SIZE_U32 = 0x0020000000000000L;
    public static final long KVM_REG_SIZE_U64 = 0x0030000000000000L;
    public static final long KVM_REG_SIZE_U128 = 0x0040000000000000L;
    public static final long KVM_REG_SIZE_SHIFT = 52L;
    public static final long KVM_REG_SIZE_MASK = 0x00f0000000000000L;
    /** System registers: op0, op1, CRn, CRm and op2 packed as below (also the instr field of a vGIC CPU_SYSREGS attr). */
    public static final long KVM_REG_ARM64_SYSREG = 0x0013L << 16;
    public static final int KVM_REG_ARM64_SYSREG_OP0_SHIFT = 14;
    public static final int KVM_REG_ARM64_SYSREG_OP1_SHIFT = 11;
    public static final int KVM_REG_ARM64_SYSREG_CRN_SHIFT = 7;
    public static final int KVM_REG_ARM64_SYSREG_CRM_SHIFT = 3;
    public static final int KVM_REG_ARM64_SYSREG_OP2_SHIFT = 0;
    /** The virtual timer's control, counter (writing it sets the VM's virtual counter offset) and compare value. */
    public static final long KVM_REG_ARM_TIMER_CTL = 0x603000000013df19L;
    public static final long KVM_REG_ARM_TIMER_CNT = 0x603000000013df1aL;
    public static final long KVM_REG_ARM_TIMER_CVAL = 0x603000000013df02L;
    /** The physical timer's counter: writing it sets the physical counter offset. */
    public static final long KVM_REG_ARM_PTIMER_CNT = 0x603000000013df01L;

    // riscv64
    public static final long KVM_REG_RISCV = 0x8000000000000000L;
    public static final long KVM_REG_RISCV_CONFIG = 0x01L << 24;
    public static final long KVM_REG_RISCV_CORE = 0x02L << 24;
    public static final long KVM_REG_RISCV_CSR = 0x03L << 24;
    public static final long KVM_REG_RISCV_TIMER = 0x04L << 24;
    public static final int KVM_DEV_RISCV_AIA_GRP_CONFIG = 0;
    public static final int KVM_DEV_RISCV_AIA_CONFIG_MODE = 0;
    public static final int KVM_DEV_RISCV_AIA_CONFIG_IDS = 1;
    public static final int KVM_DEV_RISCV_AIA_CONFIG_SRCS = 2;
    public static final int KVM_DEV_RISCV_AIA_CONFIG_HART_BITS = 5;
    public static final int KVM_DEV_RISCV_AIA_MODE_EMUL = 0;
    public static final int KVM_DEV_RISCV_AIA_GRP_ADDR = 1;
    public static final int KVM_DEV_RISCV_AIA_ADDR_APLIC = 0;
    public static final int KVM_DEV_RISCV_AIA_GRP_CTRL = 2;
    public static final int KVM_DEV_RISCV_AIA_CTRL_INIT = 0;

    /** {@code KVM_DEV_RISCV_AIA_ADDR_IMSIC(vcpu)}: the address attribute of a hart's IMSIC. */
    public static long aiaImsicAddr(int vcpu) {
        return 1L + vcpu;
    }

    /** {@code KVM_VM_TYPE_ARM_IPA_SIZE(bits)}: the {@code KVM_CREATE_VM} type asking for an IPA width. */
    public static long armVmTypeIpaSize(int bits) {
        return bits & 0xffL;
    }
}
