package dev.nimbus.mshv.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.MshvIoctls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.nimbus.mshv.abi.HvStructs.*;
import static dev.nimbus.mshv.abi.MshvConstants.*;
import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A partition (the hypervisor's VM): initialization, guest memory, VPs, interrupt plumbing, and the hypercalls
 * on the whole partition (properties, intercepts, interrupts). Thread-safe: every call fills its argument in
 * the calling thread's scratch.
 */
public final class MshvPartitionFd extends MshvFd {
    MshvPartitionFd(int fd, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
    }

    /** {@code MSHV_INITIALIZE_PARTITION}: after the early properties, before memory and VPs. */
    public void initialize() {
        ioctl(MshvIoctls.MSHV_INITIALIZE_PARTITION, 0L, "MSHV_INITIALIZE_PARTITION");
    }

    /** {@code MSHV_CREATE_VP}: VP {@code index}. */
    public MshvVpFd createVp(int index) {
        MemorySegment s = scratch(MSHV_CREATE_VP.byteSize());
        s.set(JAVA_INT, CREATE_VP_VP_INDEX, index);
        return new MshvVpFd(ioctl(MshvIoctls.MSHV_CREATE_VP, s, "MSHV_CREATE_VP(" + index + ")"), index, nativeIoctl);
    }

    /**
     * {@code MSHV_SET_GUEST_MEMORY}: maps {@code size} bytes of host memory at {@code hostAddress} at guest
     * physical address {@code gpa}, readable always, writable and executable as asked. All three must be
     * multiples of {@link dev.nimbus.mshv.abi.MshvConstants#MSHV_HV_PAGE_SIZE}.
     */
    public void mapGuestMemory(long gpa, long size, long hostAddress, boolean writable, boolean executable) {
        int flags = (writable ? 1 << MSHV_SET_MEM_BIT_WRITABLE : 0) | (executable ? 1 << MSHV_SET_MEM_BIT_EXECUTABLE : 0);
        setGuestMemory(gpa, size, hostAddress, flags, "MSHV_SET_GUEST_MEMORY(map)");
    }

    /** {@code MSHV_SET_GUEST_MEMORY} with the unmap flag: undoes a {@link #mapGuestMemory} of the same three values. */
    public void unmapGuestMemory(long gpa, long size, long hostAddress) {
        setGuestMemory(gpa, size, hostAddress, 1 << MSHV_SET_MEM_BIT_UNMAP, "MSHV_SET_GUEST_MEMORY(unmap)");
    }

    private void setGuestMemory(long gpa, long size, long hostAddress, int flags, String name) {
        long page = MSHV_HV_PAGE_SIZE;
        if (gpa % page != 0 || size % page != 0 || hostAddress % page != 0 || size <= 0) {
            throw new HypervisorException(String.format(
                    "%s: guest address 0x%x, size 0x%x and host address 0x%x must be non-empty multiples of 0x%x",
                    name, gpa, size, hostAddress, page));
        }
        MemorySegment s = scratch(MSHV_USER_MEM_REGION.byteSize());
        s.set(JAVA_LONG, MEM_REGION_SIZE, size);
        s.set(JAVA_LONG, MEM_REGION_GUEST_PFN, gpa / page);
        s.set(JAVA_LONG, MEM_REGION_USERSPACE_ADDR, hostAddress);
        s.set(JAVA_BYTE, MEM_REGION_FLAGS, (byte) flags);
        ioctl(MshvIoctls.MSHV_SET_GUEST_MEMORY, s, name);
    }

    /** {@code MSHV_IRQFD}: a write to {@code eventFd} raises {@code gsi} (its MSI route); {@code resampleFd} -1 for none. */
    public void assignIrqfd(int eventFd, int gsi, int resampleFd) {
        irqfd(eventFd, gsi, resampleFd < 0 ? 0 : resampleFd,
                resampleFd < 0 ? 0 : 1 << MSHV_IRQFD_BIT_RESAMPLE, "MSHV_IRQFD(assign gsi " + gsi + ")");
    }

    /** {@code MSHV_IRQFD} with the deassign flag. */
    public void deassignIrqfd(int eventFd, int gsi) {
        irqfd(eventFd, gsi, 0, 1 << MSHV_IRQFD_BIT_DEASSIGN, "MSHV_IRQFD(deassign gsi " + gsi + ")");
    }

    private void irqfd(int eventFd, int gsi, int resampleFd, int flags, String name) {
        MemorySegment s = scratch(MSHV_USER_IRQFD.byteSize());
        s.set(JAVA_INT, IRQFD_FD, eventFd);
        s.set(JAVA_INT, IRQFD_RESAMPLEFD, resampleFd);
        s.set(JAVA_INT, IRQFD_GSI, gsi);
        s.set(JAVA_INT, IRQFD_FLAGS, flags);
        ioctl(MshvIoctls.MSHV_IRQFD, s, name);
    }

    /**
     * {@code MSHV_IOEVENTFD}: a guest write of {@code length} bytes at {@code address} (a port when {@code pio},
     * else MMIO), of {@code datamatch} when given, signals {@code eventFd} instead of stopping the VP.
     */
    public void assignIoeventfd(int eventFd, long address, int length, boolean pio, Long datamatch) {
        ioeventfd(eventFd, address, length, pio, datamatch, false);
    }

    /** {@code MSHV_IOEVENTFD} with the deassign flag, for the same values. */
    public void deassignIoeventfd(int eventFd, long address, int length, boolean pio, Long datamatch) {
        ioeventfd(eventFd, address, length, pio, datamatch, true);
    }

    private void ioeventfd(int eventFd, long address, int length, boolean pio, Long datamatch, boolean deassign) {
        if (length != 1 && length != 2 && length != 4 && length != 8) {
            throw new HypervisorException("MSHV_IOEVENTFD: length " + length + " is not 1, 2, 4 or 8");
        }
        int flags = (pio ? 1 << MSHV_IOEVENTFD_BIT_PIO : 0) | (datamatch != null ? 1 << MSHV_IOEVENTFD_BIT_DATAMATCH : 0)
                | (deassign ? 1 << MSHV_IOEVENTFD_BIT_DEASSIGN : 0);
        MemorySegment s = scratch(MSHV_USER_IOEVENTFD.byteSize());
        s.set(JAVA_LONG, IOEVENTFD_DATAMATCH, datamatch == null ? 0 : datamatch);
        s.set(JAVA_LONG, IOEVENTFD_ADDR, address);
        s.set(JAVA_INT, IOEVENTFD_LEN, length);
        s.set(JAVA_INT, IOEVENTFD_FD, eventFd);
        s.set(JAVA_INT, IOEVENTFD_FLAGS, flags);
        ioctl(MshvIoctls.MSHV_IOEVENTFD, s, String.format("MSHV_IOEVENTFD(%s 0x%x)", deassign ? "deassign" : "assign", address));
    }

    /** One entry of the MSI routing table: {@code gsi} raises the MSI {@code address}/{@code data}. */
    public record MsiRoute(int gsi, long address, int data) {}

    /** {@code MSHV_SET_MSI_ROUTING}: replaces the whole table (an empty list clears it). */
    public void setMsiRouting(List<MsiRoute> routes) {
        try (Arena arena = Arena.ofConfined()) { // the table has no fixed size; routing changes are rare
            MemorySegment s = arena.allocate(IRQ_TABLE_ENTRIES + routes.size() * MSHV_USER_IRQ_ENTRY.byteSize(), 8);
            s.set(JAVA_INT, IRQ_TABLE_NR, routes.size());
            for (int i = 0; i < routes.size(); i++) {
                MsiRoute r = routes.get(i);
                long e = IRQ_TABLE_ENTRIES + i * MSHV_USER_IRQ_ENTRY.byteSize();
                s.set(JAVA_INT, e + IRQ_ENTRY_GSI, r.gsi());
                s.set(JAVA_INT, e + IRQ_ENTRY_ADDRESS_LO, (int) r.address());
                s.set(JAVA_INT, e + IRQ_ENTRY_ADDRESS_HI, (int) (r.address() >>> 32));
                s.set(JAVA_INT, e + IRQ_ENTRY_DATA, r.data());
            }
            ioctl(MshvIoctls.MSHV_SET_MSI_ROUTING, s, "MSHV_SET_MSI_ROUTING(" + routes.size() + " routes)");
        }
    }

    /** {@code HVCALL_SET_PARTITION_PROPERTY}: property {@code code} ({@code HV_PARTITION_PROPERTY_*}) to {@code value}. */
    public void setProperty(int code, long value) {
        MemorySegment s = hvcallScratch(HV_INPUT_SET_PARTITION_PROPERTY.byteSize());
        s.set(JAVA_INT_UNALIGNED, HVCALL_IN + PARTITION_PROPERTY_CODE, code);
        s.set(JAVA_LONG_UNALIGNED, HVCALL_IN + PARTITION_PROPERTY_VALUE, value);
        rootHvcall(s, HvConstants.HVCALL_SET_PARTITION_PROPERTY, 0, HV_INPUT_SET_PARTITION_PROPERTY.byteSize(), 0,
                String.format("HVCALL_SET_PARTITION_PROPERTY(0x%x)", code));
    }

    /** {@code HVCALL_GET_PARTITION_PROPERTY}: the value of property {@code code}. */
    public long getProperty(int code) {
        MemorySegment s = hvcallScratch(HV_INPUT_GET_PARTITION_PROPERTY.byteSize());
        s.set(JAVA_INT_UNALIGNED, HVCALL_IN + PARTITION_PROPERTY_CODE, code);
        rootHvcall(s, HvConstants.HVCALL_GET_PARTITION_PROPERTY, 0, HV_INPUT_GET_PARTITION_PROPERTY.byteSize(),
                HV_OUTPUT_GET_PARTITION_PROPERTY.byteSize(), String.format("HVCALL_GET_PARTITION_PROPERTY(0x%x)", code));
        return s.get(JAVA_LONG_UNALIGNED, HVCALL_OUT);
    }

    /**
     * {@code HVCALL_INSTALL_INTERCEPT}: stop VPs on the accesses in {@code accessMask}
     * ({@code HV_INTERCEPT_ACCESS_MASK_*}) of kind {@code type} ({@code HV_INTERCEPT_TYPE_*}) with its
     * {@code parameter} (port, CPUID leaf, MSR index, exception vector; 0 for none).
     */
    public void installIntercept(int accessMask, int type, long parameter) {
        MemorySegment s = hvcallScratch(HV_INPUT_INSTALL_INTERCEPT.byteSize());
        s.set(JAVA_INT_UNALIGNED, HVCALL_IN + INSTALL_INTERCEPT_ACCESS_TYPE, accessMask);
        s.set(JAVA_INT_UNALIGNED, HVCALL_IN + INSTALL_INTERCEPT_INTERCEPT_TYPE, type);
        s.set(JAVA_LONG_UNALIGNED, HVCALL_IN + INSTALL_INTERCEPT_PARAMETER, parameter);
        rootHvcall(s, HvConstants.HVCALL_INSTALL_INTERCEPT, 0, HV_INPUT_INSTALL_INTERCEPT.byteSize(), 0,
                String.format("HVCALL_INSTALL_INTERCEPT(type %d)", type));
    }

    /**
     * {@code HVCALL_ASSERT_VIRTUAL_INTERRUPT}: an interrupt of {@code type} ({@code HV_X64_INTERRUPT_TYPE_*}) with
     * {@code vector} to the local APIC {@code apicId} (a logical destination when {@code logicalDestination}).
     * The path of every MSI the VMM raises itself (the userspace IOAPIC's), so it allocates nothing.
     */
    public void assertVirtualInterrupt(int type, int vector, long apicId, boolean levelTriggered, boolean logicalDestination) {
        MemorySegment s = hvcallScratch(HV_INPUT_ASSERT_VIRTUAL_INTERRUPT.byteSize());
        long control = Integer.toUnsignedLong(type)
                | (levelTriggered ? 1L << INTERRUPT_CONTROL_LEVEL_TRIGGERED_BIT : 0)
                | (logicalDestination ? 1L << INTERRUPT_CONTROL_LOGICAL_DEST_MODE_BIT : 0);
        s.set(JAVA_LONG_UNALIGNED, HVCALL_IN + ASSERT_INTERRUPT_CONTROL, control);
        s.set(JAVA_LONG_UNALIGNED, HVCALL_IN + ASSERT_INTERRUPT_DEST_ADDR, apicId);
        s.set(JAVA_INT_UNALIGNED, HVCALL_IN + ASSERT_INTERRUPT_VECTOR, vector);
        rootHvcall(s, HvConstants.HVCALL_ASSERT_VIRTUAL_INTERRUPT, 0, HV_INPUT_ASSERT_VIRTUAL_INTERRUPT.byteSize(), 0,
                "HVCALL_ASSERT_VIRTUAL_INTERRUPT");
    }
}
