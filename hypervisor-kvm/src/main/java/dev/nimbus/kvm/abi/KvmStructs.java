package dev.nimbus.kvm.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.List;

import static dev.nimbus.kvm.abi.CLayouts.U16;
import static dev.nimbus.kvm.abi.CLayouts.U32;
import static dev.nimbus.kvm.abi.CLayouts.U64;
import static dev.nimbus.kvm.abi.CLayouts.U8;
import static dev.nimbus.kvm.abi.CLayouts.array;
import static dev.nimbus.kvm.abi.CLayouts.field;
import static dev.nimbus.kvm.abi.CLayouts.member;
import static dev.nimbus.kvm.abi.CLayouts.offsetOf;
import static dev.nimbus.kvm.abi.CLayouts.struct;
import static dev.nimbus.kvm.abi.CLayouts.union;

/**
 * The architecture-neutral structs of {@code <linux/kvm.h>} that Nimbus passes to the kernel, with the
 * offsets the code reads and writes. Checked member by member against the kernel's header by
 * {@code KvmLayoutConformanceTest}.
 */
public final class KvmStructs {
    private KvmStructs() {}

    public static final StructLayout KVM_USERSPACE_MEMORY_REGION = struct("kvm_userspace_memory_region",
            field("slot", U32), field("flags", U32), field("guest_phys_addr", U64),
            field("memory_size", U64), field("userspace_addr", U64));

    public static final StructLayout KVM_DIRTY_LOG = struct("kvm_dirty_log",
            field("slot", U32), field("padding1", U32),
            union("$bitmap", field("dirty_bitmap", U64), field("padding2", U64)));

    public static final StructLayout KVM_IRQFD = struct("kvm_irqfd",
            field("fd", U32), field("gsi", U32), field("flags", U32), field("resamplefd", U32),
            array("pad", U8, 16));

    public static final StructLayout KVM_IOEVENTFD = struct("kvm_ioeventfd",
            field("datamatch", U64), field("addr", U64), field("len", U32), field("fd", U32),
            field("flags", U32), array("pad", U8, 36));

    public static final StructLayout KVM_IRQ_ROUTING_IRQCHIP = struct("kvm_irq_routing_irqchip",
            field("irqchip", U32), field("pin", U32));

    public static final StructLayout KVM_IRQ_ROUTING_MSI = struct("kvm_irq_routing_msi",
            field("address_lo", U32), field("address_hi", U32), field("data", U32),
            union("$devid", field("pad", U32), field("devid", U32)));

    public static final StructLayout KVM_IRQ_ROUTING_ENTRY = struct("kvm_irq_routing_entry",
            field("gsi", U32), field("type", U32), field("flags", U32), field("pad", U32),
            member("u", union("u", member("irqchip", KVM_IRQ_ROUTING_IRQCHIP), member("msi", KVM_IRQ_ROUTING_MSI),
                    array("pad", U32, 8))));

    /** The header of {@code struct kvm_irq_routing}; {@code entries[nr]} follow. */
    public static final StructLayout KVM_IRQ_ROUTING = struct("kvm_irq_routing",
            field("nr", U32), field("flags", U32));

    public static final StructLayout KVM_IRQ_LEVEL = struct("kvm_irq_level",
            union("$irq", field("irq", U32), field("status", U32)), field("level", U32));

    public static final StructLayout KVM_MSI = struct("kvm_msi",
            field("address_lo", U32), field("address_hi", U32), field("data", U32), field("flags", U32),
            field("devid", U32), array("pad", U8, 12));

    public static final StructLayout KVM_ENABLE_CAP = struct("kvm_enable_cap",
            field("cap", U32), field("flags", U32), array("args", U64, 4), array("pad", U8, 64));

    public static final StructLayout KVM_CREATE_DEVICE = struct("kvm_create_device",
            field("type", U32), field("fd", U32), field("flags", U32));

    public static final StructLayout KVM_DEVICE_ATTR = struct("kvm_device_attr",
            field("flags", U32), field("group", U32), field("attr", U64), field("addr", U64));

    public static final StructLayout KVM_ONE_REG = struct("kvm_one_reg", field("id", U64), field("addr", U64));

    /** The header of {@code struct kvm_reg_list}; {@code reg[n]} follow. */
    public static final StructLayout KVM_REG_LIST = struct("kvm_reg_list", field("n", U64));

    /** The header of {@code struct kvm_signal_mask}; {@code sigset[len]} follows. */
    public static final StructLayout KVM_SIGNAL_MASK = struct("kvm_signal_mask", field("len", U32));

    public static final StructLayout KVM_MP_STATE = struct("kvm_mp_state", field("mp_state", U32));

    public static final StructLayout KVM_CLOCK_DATA = struct("kvm_clock_data",
            field("clock", U64), field("flags", U32), field("pad0", U32), field("realtime", U64),
            field("host_tsc", U64), array("pad", U32, 4));

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

    // kvm_run offsets used on the exit path (computed once from the layout).
    public static final long RUN_IMMEDIATE_EXIT = offsetOf(KVM_RUN, "immediate_exit");
    public static final long RUN_EXIT_REASON = offsetOf(KVM_RUN, "exit_reason");
    public static final long RUN_IO_DIRECTION = offsetOf(KVM_RUN, "io.direction");
    public static final long RUN_IO_SIZE = offsetOf(KVM_RUN, "io.size");
    public static final long RUN_IO_PORT = offsetOf(KVM_RUN, "io.port");
    public static final long RUN_IO_COUNT = offsetOf(KVM_RUN, "io.count");
    public static final long RUN_IO_DATA_OFFSET = offsetOf(KVM_RUN, "io.data_offset");
    public static final long RUN_MMIO_PHYS_ADDR = offsetOf(KVM_RUN, "mmio.phys_addr");
    public static final long RUN_MMIO_DATA = offsetOf(KVM_RUN, "mmio.data");
    public static final long RUN_MMIO_LEN = offsetOf(KVM_RUN, "mmio.len");
    public static final long RUN_MMIO_IS_WRITE = offsetOf(KVM_RUN, "mmio.is_write");
    public static final long RUN_HW_REASON = offsetOf(KVM_RUN, "hw.hardware_exit_reason");
    public static final long RUN_FAIL_ENTRY_REASON = offsetOf(KVM_RUN, "fail_entry.hardware_entry_failure_reason");
    public static final long RUN_FAIL_ENTRY_CPU = offsetOf(KVM_RUN, "fail_entry.cpu");
    public static final long RUN_SYSTEM_EVENT_TYPE = offsetOf(KVM_RUN, "system_event.type");
    public static final long RUN_SYSTEM_EVENT_NDATA = offsetOf(KVM_RUN, "system_event.ndata");
    public static final long RUN_SYSTEM_EVENT_DATA = offsetOf(KVM_RUN, "system_event.data");
    public static final long RUN_INTERNAL_SUBERROR = offsetOf(KVM_RUN, "internal.suberror");
    public static final long RUN_INTERNAL_NDATA = offsetOf(KVM_RUN, "internal.ndata");
    public static final long RUN_INTERNAL_DATA = offsetOf(KVM_RUN, "internal.data");
    public static final long RUN_EX_EXCEPTION = offsetOf(KVM_RUN, "ex.exception");
    public static final long RUN_EX_ERROR_CODE = offsetOf(KVM_RUN, "ex.error_code");
    public static final long RUN_SBI_EXTENSION = offsetOf(KVM_RUN, "riscv_sbi.extension_id");
    public static final long RUN_SBI_FUNCTION = offsetOf(KVM_RUN, "riscv_sbi.function_id");
    public static final long RUN_SBI_RET = offsetOf(KVM_RUN, "riscv_sbi.ret");
    public static final long RUN_CSR_NUM = offsetOf(KVM_RUN, "riscv_csr.csr_num");

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
