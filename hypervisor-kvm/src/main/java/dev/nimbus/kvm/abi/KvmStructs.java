package dev.nimbus.kvm.abi;

import dev.nimbus.host.CLayouts;
import java.lang.foreign.MemoryLayout;
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
 * The architecture-neutral structs of {@code <linux/kvm.h>} that Nimbus passes to the kernel, with the
 * offsets the code reads and writes. Checked member by member against the kernel's header by
 * {@code KvmHeaderConformanceTest}.
 *
 * <p>Offsets, here and in the per-architecture classes: every member the code touches has a {@code long}
 * constant right below its struct, named {@code STRUCT_MEMBER} (the struct without {@code kvm_}, shortened
 * where that is long) and computed once from the layout with {@link CLayouts#offset} (that is,
 * {@link java.lang.foreign.MemoryLayout#byteOffset}), so a change to a layout moves its offsets with it.
 * Code reads and writes a member only through its constant ({@code s.get(JAVA_INT, IRQ_LEVEL_IRQ)}), never by
 * a path string or a literal number.
 */
public final class KvmStructs {
    private KvmStructs() {}

    public static final StructLayout KVM_USERSPACE_MEMORY_REGION = struct("kvm_userspace_memory_region",
            field("slot", U32), field("flags", U32), field("guest_phys_addr", U64),
            field("memory_size", U64), field("userspace_addr", U64));
    public static final long MEMORY_REGION_SLOT = offset(KVM_USERSPACE_MEMORY_REGION, "slot");
    public static final long MEMORY_REGION_FLAGS = offset(KVM_USERSPACE_MEMORY_REGION, "flags");
    public static final long MEMORY_REGION_GUEST_PHYS_ADDR = offset(KVM_USERSPACE_MEMORY_REGION, "guest_phys_addr");
    public static final long MEMORY_REGION_MEMORY_SIZE = offset(KVM_USERSPACE_MEMORY_REGION, "memory_size");
    public static final long MEMORY_REGION_USERSPACE_ADDR = offset(KVM_USERSPACE_MEMORY_REGION, "userspace_addr");

    public static final StructLayout KVM_DIRTY_LOG = struct("kvm_dirty_log",
            field("slot", U32), field("padding1", U32),
            union("$bitmap", field("dirty_bitmap", U64), field("padding2", U64)));
    public static final long DIRTY_LOG_SLOT = offset(KVM_DIRTY_LOG, "slot");
    public static final long DIRTY_LOG_DIRTY_BITMAP = offset(KVM_DIRTY_LOG, "$bitmap", "dirty_bitmap");

    public static final StructLayout KVM_IRQFD = struct("kvm_irqfd",
            field("fd", U32), field("gsi", U32), field("flags", U32), field("resamplefd", U32),
            array("pad", U8, 16));
    public static final long IRQFD_FD = offset(KVM_IRQFD, "fd");
    public static final long IRQFD_GSI = offset(KVM_IRQFD, "gsi");
    public static final long IRQFD_FLAGS = offset(KVM_IRQFD, "flags");

    public static final StructLayout KVM_IOEVENTFD = struct("kvm_ioeventfd",
            field("datamatch", U64), field("addr", U64), field("len", U32), field("fd", U32),
            field("flags", U32), array("pad", U8, 36));
    public static final long IOEVENTFD_DATAMATCH = offset(KVM_IOEVENTFD, "datamatch");
    public static final long IOEVENTFD_ADDR = offset(KVM_IOEVENTFD, "addr");
    public static final long IOEVENTFD_LEN = offset(KVM_IOEVENTFD, "len");
    public static final long IOEVENTFD_FD = offset(KVM_IOEVENTFD, "fd");
    public static final long IOEVENTFD_FLAGS = offset(KVM_IOEVENTFD, "flags");

    public static final StructLayout KVM_IRQ_ROUTING_IRQCHIP = struct("kvm_irq_routing_irqchip",
            field("irqchip", U32), field("pin", U32));

    public static final StructLayout KVM_IRQ_ROUTING_MSI = struct("kvm_irq_routing_msi",
            field("address_lo", U32), field("address_hi", U32), field("data", U32),
            union("$devid", field("pad", U32), field("devid", U32)));

    public static final StructLayout KVM_IRQ_ROUTING_ENTRY = struct("kvm_irq_routing_entry",
            field("gsi", U32), field("type", U32), field("flags", U32), field("pad", U32),
            member("u", union("u", member("irqchip", KVM_IRQ_ROUTING_IRQCHIP), member("msi", KVM_IRQ_ROUTING_MSI),
                    array("pad", U32, 8))));
    public static final long ROUTING_ENTRY_GSI = offset(KVM_IRQ_ROUTING_ENTRY, "gsi");
    public static final long ROUTING_ENTRY_TYPE = offset(KVM_IRQ_ROUTING_ENTRY, "type");
    public static final long ROUTING_ENTRY_FLAGS = offset(KVM_IRQ_ROUTING_ENTRY, "flags");
    public static final long ROUTING_ENTRY_IRQCHIP_IRQCHIP = offset(KVM_IRQ_ROUTING_ENTRY, "u", "irqchip", "irqchip");
    public static final long ROUTING_ENTRY_IRQCHIP_PIN = offset(KVM_IRQ_ROUTING_ENTRY, "u", "irqchip", "pin");
    public static final long ROUTING_ENTRY_MSI_ADDRESS_LO = offset(KVM_IRQ_ROUTING_ENTRY, "u", "msi", "address_lo");
    public static final long ROUTING_ENTRY_MSI_ADDRESS_HI = offset(KVM_IRQ_ROUTING_ENTRY, "u", "msi", "address_hi");
    public static final long ROUTING_ENTRY_MSI_DATA = offset(KVM_IRQ_ROUTING_ENTRY, "u", "msi", "data");
    public static final long ROUTING_ENTRY_MSI_DEVID = offset(KVM_IRQ_ROUTING_ENTRY, "u", "msi", "$devid", "devid");

    /** The header of {@code struct kvm_irq_routing}; {@code entries[nr]} follow. */
    public static final StructLayout KVM_IRQ_ROUTING = struct("kvm_irq_routing",
            field("nr", U32), field("flags", U32));
    public static final long IRQ_ROUTING_NR = offset(KVM_IRQ_ROUTING, "nr");

    public static final StructLayout KVM_IRQ_LEVEL = struct("kvm_irq_level",
            union("$irq", field("irq", U32), field("status", U32)), field("level", U32));
    public static final long IRQ_LEVEL_IRQ = offset(KVM_IRQ_LEVEL, "$irq", "irq");
    public static final long IRQ_LEVEL_LEVEL = offset(KVM_IRQ_LEVEL, "level");

    public static final StructLayout KVM_MSI = struct("kvm_msi",
            field("address_lo", U32), field("address_hi", U32), field("data", U32), field("flags", U32),
            field("devid", U32), array("pad", U8, 12));
    public static final long MSI_ADDRESS_LO = offset(KVM_MSI, "address_lo");
    public static final long MSI_ADDRESS_HI = offset(KVM_MSI, "address_hi");
    public static final long MSI_DATA = offset(KVM_MSI, "data");
    public static final long MSI_FLAGS = offset(KVM_MSI, "flags");
    public static final long MSI_DEVID = offset(KVM_MSI, "devid");

    public static final StructLayout KVM_ENABLE_CAP = struct("kvm_enable_cap",
            field("cap", U32), field("flags", U32), array("args", U64, 4), array("pad", U8, 64));
    public static final long ENABLE_CAP_CAP = offset(KVM_ENABLE_CAP, "cap");
    public static final long ENABLE_CAP_ARGS = offset(KVM_ENABLE_CAP, "args");

    public static final StructLayout KVM_CREATE_DEVICE = struct("kvm_create_device",
            field("type", U32), field("fd", U32), field("flags", U32));
    public static final long CREATE_DEVICE_TYPE = offset(KVM_CREATE_DEVICE, "type");
    public static final long CREATE_DEVICE_FD = offset(KVM_CREATE_DEVICE, "fd");
    public static final long CREATE_DEVICE_FLAGS = offset(KVM_CREATE_DEVICE, "flags");

    public static final StructLayout KVM_DEVICE_ATTR = struct("kvm_device_attr",
            field("flags", U32), field("group", U32), field("attr", U64), field("addr", U64));
    public static final long DEVICE_ATTR_GROUP = offset(KVM_DEVICE_ATTR, "group");
    public static final long DEVICE_ATTR_ATTR = offset(KVM_DEVICE_ATTR, "attr");
    public static final long DEVICE_ATTR_ADDR = offset(KVM_DEVICE_ATTR, "addr");

    public static final StructLayout KVM_ONE_REG = struct("kvm_one_reg", field("id", U64), field("addr", U64));
    public static final long ONE_REG_ID = offset(KVM_ONE_REG, "id");
    public static final long ONE_REG_ADDR = offset(KVM_ONE_REG, "addr");

    /** The header of {@code struct kvm_reg_list}; {@code reg[n]} follow. */
    public static final StructLayout KVM_REG_LIST = struct("kvm_reg_list", field("n", U64));
    public static final long REG_LIST_N = offset(KVM_REG_LIST, "n");

    /** The header of {@code struct kvm_signal_mask}; {@code sigset[len]} follows. */
    public static final StructLayout KVM_SIGNAL_MASK = struct("kvm_signal_mask", field("len", U32));
    public static final long SIGNAL_MASK_LEN = offset(KVM_SIGNAL_MASK, "len");

    public static final StructLayout KVM_MP_STATE = struct("kvm_mp_state", field("mp_state", U32));
    public static final long MP_STATE_MP_STATE = offset(KVM_MP_STATE, "mp_state");

    public static final StructLayout KVM_CLOCK_DATA = struct("kvm_clock_data",
            field("clock", U64), field("flags", U32), field("pad0", U32), field("realtime", U64),
            field("host_tsc", U64), array("pad", U32, 4));
    public static final long CLOCK_DATA_CLOCK = offset(KVM_CLOCK_DATA, "clock");

    /** The shared page a vCPU's exits are reported in ({@code mmap} of the vCPU fd). The union is 256 bytes. */
    public static final StructLayout KVM_RUN = struct("kvm_run",
            field("request_interrupt_window", U8), field("immediate_exit", U8), array("padding1", U8, 6),
            field("exit_reason", U32), field("ready_for_interrupt_injection", U8), field("if_flag", U8),
            field("flags", U16), field("cr8", U64), field("apic_base", U64),
            union("$exit",
                    member("hw", struct("hw", field("hardware_exit_reason", U64))),
                    member("fail_entry", struct("fail_entry", field("hardware_entry_failure_reason", U64), field("cpu", U32))),
                    member("ex", struct("ex", field("exception", U32), field("error_code", U32))),
                    member("io", struct("io", field("direction", U8), field("size", U8), field("port", U16),
                            field("count", U32), field("data_offset", U64))),
                    member("mmio", struct("mmio", field("phys_addr", U64), array("data", U8, 8), field("len", U32),
                            field("is_write", U8))),
                    member("eoi", struct("eoi", field("vector", U8))),
                    member("system_event", struct("system_event", field("type", U32), field("ndata", U32),
                            union("$data", field("flags", U64), array("data", U64, 16)))),
                    member("internal", struct("internal", field("suberror", U32), field("ndata", U32),
                            array("data", U64, 16))),
                    member("riscv_sbi", struct("riscv_sbi", field("extension_id", U64), field("function_id", U64),
                            array("args", U64, 6), array("ret", U64, 2))),
                    member("riscv_csr", struct("riscv_csr", field("csr_num", U64), field("new_value", U64),
                            field("write_mask", U64), field("ret_value", U64))),
                    array("padding", U8, 256)),
            field("kvm_valid_regs", U64), field("kvm_dirty_regs", U64),
            member("s", union("s", array("padding", U8, 2048))));

    // kvm_run offsets used on the exit path; the exit members are in the anonymous union $exit.
    public static final long RUN_IMMEDIATE_EXIT = offset(KVM_RUN, "immediate_exit");
    public static final long RUN_EXIT_REASON = offset(KVM_RUN, "exit_reason");
    public static final long RUN_IO_DIRECTION = offset(KVM_RUN, "$exit", "io", "direction");
    public static final long RUN_IO_SIZE = offset(KVM_RUN, "$exit", "io", "size");
    public static final long RUN_IO_PORT = offset(KVM_RUN, "$exit", "io", "port");
    public static final long RUN_IO_COUNT = offset(KVM_RUN, "$exit", "io", "count");
    public static final long RUN_IO_DATA_OFFSET = offset(KVM_RUN, "$exit", "io", "data_offset");
    public static final long RUN_MMIO_PHYS_ADDR = offset(KVM_RUN, "$exit", "mmio", "phys_addr");
    public static final long RUN_MMIO_DATA = offset(KVM_RUN, "$exit", "mmio", "data");
    public static final long RUN_MMIO_LEN = offset(KVM_RUN, "$exit", "mmio", "len");
    public static final long RUN_MMIO_IS_WRITE = offset(KVM_RUN, "$exit", "mmio", "is_write");
    public static final long RUN_HW_REASON = offset(KVM_RUN, "$exit", "hw", "hardware_exit_reason");
    public static final long RUN_FAIL_ENTRY_REASON = offset(KVM_RUN, "$exit", "fail_entry", "hardware_entry_failure_reason");
    public static final long RUN_FAIL_ENTRY_CPU = offset(KVM_RUN, "$exit", "fail_entry", "cpu");
    public static final long RUN_EOI_VECTOR = offset(KVM_RUN, "$exit", "eoi", "vector");
    public static final long RUN_SYSTEM_EVENT_TYPE = offset(KVM_RUN, "$exit", "system_event", "type");
    public static final long RUN_SYSTEM_EVENT_NDATA = offset(KVM_RUN, "$exit", "system_event", "ndata");
    public static final long RUN_SYSTEM_EVENT_DATA = offset(KVM_RUN, "$exit", "system_event", "$data", "data");
    public static final long RUN_INTERNAL_SUBERROR = offset(KVM_RUN, "$exit", "internal", "suberror");
    public static final long RUN_INTERNAL_NDATA = offset(KVM_RUN, "$exit", "internal", "ndata");
    public static final long RUN_INTERNAL_DATA = offset(KVM_RUN, "$exit", "internal", "data");
    public static final long RUN_EX_EXCEPTION = offset(KVM_RUN, "$exit", "ex", "exception");
    public static final long RUN_EX_ERROR_CODE = offset(KVM_RUN, "$exit", "ex", "error_code");
    public static final long RUN_SBI_EXTENSION = offset(KVM_RUN, "$exit", "riscv_sbi", "extension_id");
    public static final long RUN_SBI_FUNCTION = offset(KVM_RUN, "$exit", "riscv_sbi", "function_id");
    public static final long RUN_SBI_ARGS = offset(KVM_RUN, "$exit", "riscv_sbi", "args");
    public static final long RUN_SBI_RET = offset(KVM_RUN, "$exit", "riscv_sbi", "ret");
    public static final long RUN_CSR_NUM = offset(KVM_RUN, "$exit", "riscv_csr", "csr_num");

    /** Every struct of this header, for the layout test. */
    public static final List<StructLayout> ALL = List.of(
            KVM_USERSPACE_MEMORY_REGION, KVM_DIRTY_LOG, KVM_IRQFD, KVM_IOEVENTFD, KVM_IRQ_ROUTING_IRQCHIP,
            KVM_IRQ_ROUTING_MSI, KVM_IRQ_ROUTING_ENTRY, KVM_IRQ_ROUTING, KVM_IRQ_LEVEL, KVM_MSI, KVM_ENABLE_CAP,
            KVM_CREATE_DEVICE, KVM_DEVICE_ATTR, KVM_ONE_REG, KVM_REG_LIST, KVM_SIGNAL_MASK, KVM_MP_STATE,
            KVM_CLOCK_DATA, KVM_RUN);

    /** A struct layout's size as a {@code long}, for readability at call sites. */
    public static long sizeOf(MemoryLayout layout) {
        return layout.byteSize();
    }
}
