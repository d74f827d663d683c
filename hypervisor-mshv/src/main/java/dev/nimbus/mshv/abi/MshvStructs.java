package dev.nimbus.mshv.abi;

import java.lang.foreign.StructLayout;
import java.util.List;

import static dev.nimbus.host.CLayouts.U16;
import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.U8;
import static dev.nimbus.host.CLayouts.array;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.offset;
import static dev.nimbus.host.CLayouts.packedStruct;
import static dev.nimbus.host.CLayouts.struct;

/**
 * The structs of Linux's {@code <linux/mshv.h>} (the mshv root-partition driver's uapi, upstream since 6.15)
 * that the backend passes to the kernel, with the offsets the code reads and writes: one {@code long}
 * constant per member, named after the struct without {@code mshv_} and the member, computed from the
 * layout. Checked member by member against the header by {@code MshvHeaderConformanceTest}.
 */
public final class MshvStructs {
    private MshvStructs() {}

    /** {@code MSHV_CREATE_PARTITION}'s argument (the v1 form). */
    public static final StructLayout MSHV_CREATE_PARTITION = struct("mshv_create_partition",
            field("pt_flags", U64), field("pt_isolation", U64));
    public static final long CREATE_PARTITION_PT_FLAGS = offset(MSHV_CREATE_PARTITION, "pt_flags");
    public static final long CREATE_PARTITION_PT_ISOLATION = offset(MSHV_CREATE_PARTITION, "pt_isolation");

    /**
     * {@code MSHV_CREATE_PARTITION}'s argument when {@code pt_flags} has {@code MSHV_PT_BIT_CPU_AND_XSAVE_FEATURES}
     * (same request number, the kernel reads this larger, packed form): the processor feature banks and XSAVE
     * features to disable, passed to the hypervisor as they are.
     */
    public static final StructLayout MSHV_CREATE_PARTITION_V2 = packedStruct("mshv_create_partition_v2",
            field("pt_flags", U64), field("pt_isolation", U64), field("pt_num_cpu_fbanks", U16), array("pt_rsvd", U8, 6),
            array("pt_cpu_fbanks", U64, 2), array("pt_rsvd1", U64, 2), field("pt_disabled_xsave", U64));
    public static final long CREATE_PARTITION_V2_NUM_CPU_FBANKS = offset(MSHV_CREATE_PARTITION_V2, "pt_num_cpu_fbanks");
    public static final long CREATE_PARTITION_V2_CPU_FBANKS = offset(MSHV_CREATE_PARTITION_V2, "pt_cpu_fbanks");
    public static final long CREATE_PARTITION_V2_DISABLED_XSAVE = offset(MSHV_CREATE_PARTITION_V2, "pt_disabled_xsave");

    public static final StructLayout MSHV_CREATE_VP = struct("mshv_create_vp", field("vp_index", U32));
    public static final long CREATE_VP_VP_INDEX = offset(MSHV_CREATE_VP, "vp_index");

    /** {@code MSHV_SET_GUEST_MEMORY}: map or (with the unmap flag) unmap host memory at a guest page number. */
    public static final StructLayout MSHV_USER_MEM_REGION = struct("mshv_user_mem_region",
            field("size", U64), field("guest_pfn", U64), field("userspace_addr", U64), field("flags", U8),
            array("rsvd", U8, 7));
    public static final long MEM_REGION_SIZE = offset(MSHV_USER_MEM_REGION, "size");
    public static final long MEM_REGION_GUEST_PFN = offset(MSHV_USER_MEM_REGION, "guest_pfn");
    public static final long MEM_REGION_USERSPACE_ADDR = offset(MSHV_USER_MEM_REGION, "userspace_addr");
    public static final long MEM_REGION_FLAGS = offset(MSHV_USER_MEM_REGION, "flags");

    public static final StructLayout MSHV_USER_IRQFD = struct("mshv_user_irqfd",
            field("fd", U32), field("resamplefd", U32), field("gsi", U32), field("flags", U32));
    public static final long IRQFD_FD = offset(MSHV_USER_IRQFD, "fd");
    public static final long IRQFD_RESAMPLEFD = offset(MSHV_USER_IRQFD, "resamplefd");
    public static final long IRQFD_GSI = offset(MSHV_USER_IRQFD, "gsi");
    public static final long IRQFD_FLAGS = offset(MSHV_USER_IRQFD, "flags");

    public static final StructLayout MSHV_USER_IOEVENTFD = struct("mshv_user_ioeventfd",
            field("datamatch", U64), field("addr", U64), field("len", U32), field("fd", U32), field("flags", U32),
            array("rsvd", U8, 4));
    public static final long IOEVENTFD_DATAMATCH = offset(MSHV_USER_IOEVENTFD, "datamatch");
    public static final long IOEVENTFD_ADDR = offset(MSHV_USER_IOEVENTFD, "addr");
    public static final long IOEVENTFD_LEN = offset(MSHV_USER_IOEVENTFD, "len");
    public static final long IOEVENTFD_FD = offset(MSHV_USER_IOEVENTFD, "fd");
    public static final long IOEVENTFD_FLAGS = offset(MSHV_USER_IOEVENTFD, "flags");

    /** One MSI route: a GSI and the MSI address and data it raises. */
    public static final StructLayout MSHV_USER_IRQ_ENTRY = struct("mshv_user_irq_entry",
            field("gsi", U32), field("address_lo", U32), field("address_hi", U32), field("data", U32));
    public static final long IRQ_ENTRY_GSI = offset(MSHV_USER_IRQ_ENTRY, "gsi");
    public static final long IRQ_ENTRY_ADDRESS_LO = offset(MSHV_USER_IRQ_ENTRY, "address_lo");
    public static final long IRQ_ENTRY_ADDRESS_HI = offset(MSHV_USER_IRQ_ENTRY, "address_hi");
    public static final long IRQ_ENTRY_DATA = offset(MSHV_USER_IRQ_ENTRY, "data");

    /** {@code MSHV_SET_MSI_ROUTING}'s header; {@code entries[nr]} follow it (a flexible array, not in the layout). */
    public static final StructLayout MSHV_USER_IRQ_TABLE = struct("mshv_user_irq_table",
            field("nr", U32), field("rsvd", U32));
    public static final long IRQ_TABLE_NR = offset(MSHV_USER_IRQ_TABLE, "nr");
    /** Where {@code entries[0]} starts: right after the header (checked against {@code offsetof(..., entries)}). */
    public static final long IRQ_TABLE_ENTRIES = MSHV_USER_IRQ_TABLE.byteSize();

    public static final StructLayout MSHV_GPAP_ACCESS_BITMAP = struct("mshv_gpap_access_bitmap",
            field("access_type", U8), field("access_op", U8), array("rsvd", U8, 6), field("page_count", U64),
            field("gpap_base", U64), field("bitmap_ptr", U64));

    /** {@code MSHV_ROOT_HVCALL}: a hypercall passed through, its input and output in user buffers. */
    public static final StructLayout MSHV_ROOT_HVCALL = struct("mshv_root_hvcall",
            field("code", U16), field("reps", U16), field("in_sz", U16), field("out_sz", U16), field("status", U16),
            array("rsvd", U8, 6), field("in_ptr", U64), field("out_ptr", U64));
    public static final long ROOT_HVCALL_CODE = offset(MSHV_ROOT_HVCALL, "code");
    public static final long ROOT_HVCALL_REPS = offset(MSHV_ROOT_HVCALL, "reps");
    public static final long ROOT_HVCALL_IN_SZ = offset(MSHV_ROOT_HVCALL, "in_sz");
    public static final long ROOT_HVCALL_OUT_SZ = offset(MSHV_ROOT_HVCALL, "out_sz");
    public static final long ROOT_HVCALL_STATUS = offset(MSHV_ROOT_HVCALL, "status");
    public static final long ROOT_HVCALL_IN_PTR = offset(MSHV_ROOT_HVCALL, "in_ptr");
    public static final long ROOT_HVCALL_OUT_PTR = offset(MSHV_ROOT_HVCALL, "out_ptr");

    /** {@code MSHV_RUN_VP}'s argument: the 256-byte {@code hv_message} the VP stopped with is copied here. */
    public static final StructLayout MSHV_RUN_VP = struct("mshv_run_vp", array("msg_buf", U8, 256));

    /** {@code MSHV_GET_VP_STATE}/{@code MSHV_SET_VP_STATE}: LAPIC, XSAVE and synthetic state in a page-aligned buffer. */
    public static final StructLayout MSHV_GET_SET_VP_STATE = struct("mshv_get_set_vp_state",
            field("type", U8), array("rsvd", U8, 3), field("buf_sz", U32), field("buf_ptr", U64));
    public static final long VP_STATE_TYPE = offset(MSHV_GET_SET_VP_STATE, "type");
    public static final long VP_STATE_BUF_SZ = offset(MSHV_GET_SET_VP_STATE, "buf_sz");
    public static final long VP_STATE_BUF_PTR = offset(MSHV_GET_SET_VP_STATE, "buf_ptr");

    /** Every struct above, for the conformance test. */
    public static final List<StructLayout> ALL = List.of(MSHV_CREATE_PARTITION, MSHV_CREATE_PARTITION_V2, MSHV_CREATE_VP, MSHV_USER_MEM_REGION,
            MSHV_USER_IRQFD, MSHV_USER_IOEVENTFD, MSHV_USER_IRQ_ENTRY, MSHV_USER_IRQ_TABLE, MSHV_GPAP_ACCESS_BITMAP,
            MSHV_ROOT_HVCALL, MSHV_RUN_VP, MSHV_GET_SET_VP_STATE);
}
