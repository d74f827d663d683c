package dev.nimbus.mshv.abi;

/**
 * The flag bits and enumerators of {@code <linux/mshv.h>} the backend uses, under their C names (most are C
 * enumerators, not macros; {@code MshvHeaderConformanceTest} compares every one with the header). The
 * {@code _BIT_} values are bit numbers: the flags word takes {@code 1 << bit}.
 */
public final class MshvConstants {
    private MshvConstants() {}

    // mshv_create_partition.pt_flags
    public static final int MSHV_PT_BIT_LAPIC = 0;
    public static final int MSHV_PT_BIT_X2APIC = 1;
    public static final int MSHV_PT_BIT_GPA_SUPER_PAGES = 2;
    public static final int MSHV_PT_BIT_CPU_AND_XSAVE_FEATURES = 3;
    public static final int MSHV_PT_BIT_NESTED_VIRTUALIZATION = 4;
    public static final int MSHV_PT_BIT_SMT_ENABLED_GUEST = 5;
    /** {@code mshv_create_partition_v2.pt_num_cpu_fbanks} must be this. */
    public static final int MSHV_NUM_CPU_FEATURES_BANKS = 2;
    // mshv_create_partition.pt_isolation
    public static final int MSHV_PT_ISOLATION_NONE = 0;

    // mshv_user_mem_region.flags (no bit set: read-only, not executable)
    public static final int MSHV_SET_MEM_BIT_WRITABLE = 0;
    public static final int MSHV_SET_MEM_BIT_EXECUTABLE = 1;
    public static final int MSHV_SET_MEM_BIT_UNMAP = 2;
    /** Guest memory is mapped in pages of this size: the region's size and host address are multiples of it. */
    public static final int MSHV_HV_PAGE_SIZE = 0x1000;

    // mshv_user_irqfd.flags
    public static final int MSHV_IRQFD_BIT_DEASSIGN = 0;
    public static final int MSHV_IRQFD_BIT_RESAMPLE = 1;

    // mshv_user_ioeventfd.flags
    public static final int MSHV_IOEVENTFD_BIT_DATAMATCH = 0;
    public static final int MSHV_IOEVENTFD_BIT_PIO = 1;
    public static final int MSHV_IOEVENTFD_BIT_DEASSIGN = 2;

    /** The size of the message {@code MSHV_RUN_VP} returns. */
    public static final int MSHV_RUN_VP_BUF_SZ = 256;

    // mshv_get_set_vp_state.type
    public static final int MSHV_VP_STATE_LAPIC = 0;
    public static final int MSHV_VP_STATE_XSAVE = 1;
    public static final int MSHV_VP_STATE_SIMP = 2;
    public static final int MSHV_VP_STATE_SIEFP = 3;
    public static final int MSHV_VP_STATE_SYNTHETIC_TIMERS = 4;

    // mmap offsets of a VP fd, in pages
    public static final int MSHV_VP_MMAP_OFFSET_REGISTERS = 0;
    public static final int MSHV_VP_MMAP_OFFSET_INTERCEPT_MESSAGE = 1;
}
