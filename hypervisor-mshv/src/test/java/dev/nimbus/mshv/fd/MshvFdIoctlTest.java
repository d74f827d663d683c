package dev.nimbus.mshv.fd;

import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.HvRegisterName;
import dev.nimbus.mshv.abi.MshvIoctls;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static dev.nimbus.mshv.abi.HvStructs.*;
import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The MSHV descriptor classes fill each argument as {@code <linux/mshv.h>} and the hypervisor's formats lay it
 * out (offsets from the header-checked layouts) and send the uapi's request numbers. The kernel is a
 * stand-in ({@link KernelStandIn}): no machine here has /dev/mshv.
 */
class MshvFdIoctlTest {
    private static int i32(MemorySegment s, long at) {
        return s.get(JAVA_INT_UNALIGNED, at);
    }

    private static long i64(MemorySegment s, long at) {
        return s.get(JAVA_LONG_UNALIGNED, at);
    }

    @Test
    void mapGuestMemoryPassesTheGuestPageNumberAndTheAccessBits() {
        KernelStandIn k = new KernelStandIn();
        k.partition().mapGuestMemory(0x10_0000, 0x20_0000, 0x7f00_0000_0000L, true, false);

        assertThat(k.last().request()).isEqualTo(MshvIoctls.MSHV_SET_GUEST_MEMORY);
        MemorySegment a = k.last().argument();
        assertThat(i64(a, MEM_REGION_SIZE)).isEqualTo(0x20_0000);
        assertThat(i64(a, MEM_REGION_GUEST_PFN)).isEqualTo(0x100);
        assertThat(i64(a, MEM_REGION_USERSPACE_ADDR)).isEqualTo(0x7f00_0000_0000L);
        assertThat(a.get(JAVA_BYTE, MEM_REGION_FLAGS)).isEqualTo((byte) 0b001);
    }

    @Test
    void unmapSetsOnlyTheUnmapBit() {
        KernelStandIn k = new KernelStandIn();
        k.partition().unmapGuestMemory(0, 0x1000, 0x1000);

        assertThat(k.last().argument().get(JAVA_BYTE, MEM_REGION_FLAGS)).isEqualTo((byte) 0b100);
    }

    @Test
    void unalignedGuestMemoryIsRefusedBeforeTheKernelIsAsked() {
        KernelStandIn k = new KernelStandIn();
        assertThatThrownBy(() -> k.partition().mapGuestMemory(0x800, 0x1000, 0x1000, true, true))
                .isInstanceOf(HypervisorException.class).hasMessageContaining("guest address 0x800");
        assertThat(k.calls).isEmpty();
    }

    @Test
    void irqfdWithResampleAndDeassign() {
        KernelStandIn k = new KernelStandIn();
        MshvPartitionFd p = k.partition();
        p.assignIrqfd(7, 24, 9);
        MemorySegment a = k.last().argument();
        assertThat(k.last().request()).isEqualTo(MshvIoctls.MSHV_IRQFD);
        assertThat(new int[] {i32(a, IRQFD_FD), i32(a, IRQFD_RESAMPLEFD), i32(a, IRQFD_GSI), i32(a, IRQFD_FLAGS)})
                .containsExactly(7, 9, 24, 0b10);

        p.deassignIrqfd(7, 24);
        assertThat(i32(k.last().argument(), IRQFD_FLAGS)).isEqualTo(0b01);
    }

    @Test
    void ioeventfdForAPortWithDatamatch() {
        KernelStandIn k = new KernelStandIn();
        k.partition().assignIoeventfd(5, 0x3f8, 1, true, 0x41L);
        MemorySegment a = k.last().argument();

        assertThat(k.last().request()).isEqualTo(MshvIoctls.MSHV_IOEVENTFD);
        assertThat(i64(a, IOEVENTFD_DATAMATCH)).isEqualTo(0x41);
        assertThat(i64(a, IOEVENTFD_ADDR)).isEqualTo(0x3f8);
        assertThat(i32(a, IOEVENTFD_LEN)).isEqualTo(1);
        assertThat(i32(a, IOEVENTFD_FD)).isEqualTo(5);
        assertThat(i32(a, IOEVENTFD_FLAGS)).isEqualTo(0b011);
        assertThatThrownBy(() -> k.partition().assignIoeventfd(5, 0, 3, false, null)).hasMessageContaining("length 3");
    }

    @Test
    void msiRoutingTableSplitsTheAddress() {
        KernelStandIn k = new KernelStandIn();
        k.partition().setMsiRouting(List.of(new MshvPartitionFd.MsiRoute(1, 0xfee0_0000L, 0x31),
                new MshvPartitionFd.MsiRoute(2, 0x1_fee0_1000L, 0x4032)));
        MemorySegment a = k.last().argument();

        assertThat(k.last().request()).isEqualTo(MshvIoctls.MSHV_SET_MSI_ROUTING);
        assertThat(i32(a, IRQ_TABLE_NR)).isEqualTo(2);
        long e = IRQ_TABLE_ENTRIES + MSHV_USER_IRQ_ENTRY.byteSize();
        assertThat(new int[] {i32(a, e + IRQ_ENTRY_GSI), i32(a, e + IRQ_ENTRY_ADDRESS_LO), i32(a, e + IRQ_ENTRY_ADDRESS_HI),
                i32(a, e + IRQ_ENTRY_DATA)}).containsExactly(2, 0xfee0_1000, 1, 0x4032);
    }

    @Test
    void setRegistersGoesInBatchesOfNameValuePairs() {
        KernelStandIn k = new KernelStandIn();
        HvRegisterName[] names = Arrays.copyOf(HvRegisterName.values(), 20);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(16L * names.length);
            for (int i = 0; i < names.length; i++) {
                values.set(JAVA_LONG_UNALIGNED, 16L * i, 1000 + i);
            }
            k.vp(3).setRegisters(names, values);
        }

        assertThat(MshvVpFd.SET_BATCH).isEqualTo(6);
        assertThat(k.calls).hasSize(4);
        KernelStandIn.Call second = k.calls.get(1);
        MemorySegment hvcall = second.argument();
        assertThat(second.request()).isEqualTo(MshvIoctls.MSHV_ROOT_HVCALL);
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE)).isEqualTo((short) HvConstants.HVCALL_SET_VP_REGISTERS);
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_REPS)).isEqualTo((short) 6);
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_IN_SZ)).isEqualTo((short) (16 + 6 * 32));
        MemorySegment in = second.input();
        assertThat(i32(in, VP_REGISTERS_VP_INDEX)).isEqualTo(3);
        long first = VP_REGISTERS_ELEMENTS;
        assertThat(i32(in, first + REGISTER_ASSOC_NAME)).isEqualTo(names[6].value());
        assertThat(i64(in, first + REGISTER_ASSOC_VALUE)).isEqualTo(1006);
        assertThat(k.calls.getLast().input().byteSize()).isEqualTo(16 + 2 * 32);
    }

    @Test
    void getRegistersCopiesEachValueBack() {
        KernelStandIn k = new KernelStandIn();
        HvRegisterName[] names = {HvRegisterName.RIP, HvRegisterName.CR0, HvRegisterName.EFER};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(16L * names.length);
            k.vp(0).getRegisters(names, values);

            assertThat(i64(values, 16)).isEqualTo((long) HvRegisterName.CR0.value() * 0x100);
            assertThat(i64(values, 40)).isEqualTo((long) HvRegisterName.EFER.value() * 0x100 + 1);
        }
        MemorySegment hvcall = k.last().argument();
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE)).isEqualTo((short) HvConstants.HVCALL_GET_VP_REGISTERS);
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_OUT_SZ)).isEqualTo((short) 48);
        assertThat(i32(k.last().input(), VP_REGISTERS_ELEMENTS + 4)).isEqualTo(HvRegisterName.CR0.value());
    }

    @Test
    void aFailedHypercallNamesItAndTheHypervisorsStatus() {
        KernelStandIn k = new KernelStandIn(HvConstants.HV_STATUS_INVALID_PARAMETER, -Errno.EINVAL);

        assertThatThrownBy(() -> k.partition().setProperty(HvConstants.HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 1))
                .isInstanceOf(SyscallException.class)
                .hasMessageContaining("HVCALL_SET_PARTITION_PROPERTY(0x10001) failed")
                .hasMessageContaining("hypervisor status 0x5 (HV_STATUS_INVALID_PARAMETER)");
        MemorySegment in = k.last().input();
        assertThat(i32(in, PARTITION_PROPERTY_CODE)).isEqualTo(HvConstants.HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES);
        assertThat(i64(in, PARTITION_PROPERTY_VALUE)).isEqualTo(1);
    }

    @Test
    void translateVirtualAddressSendsTheGuestPageAndFlagsAndKeepsTheByteOffset() {
        KernelStandIn k = new KernelStandIn();
        k.pageTable.put(0x7fff_f123_4L, 0x5678L);
        MshvVpFd.GvaTranslation t = k.vp(3).translateVirtualAddress(0x7fff_f123_4abcL,
                HvConstants.HV_TRANSLATE_GVA_VALIDATE_READ | HvConstants.HV_TRANSLATE_GVA_SET_PAGE_TABLE_BITS);

        assertThat(t.success()).isTrue();
        assertThat(t.gpa()).isEqualTo(0x567_8abcL);
        MemorySegment hvcall = k.last().argument();
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE)).isEqualTo((short) HvConstants.HVCALL_TRANSLATE_VIRTUAL_ADDRESS);
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_REPS)).isZero();
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_IN_SZ)).isEqualTo((short) 32);
        assertThat(hvcall.get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_OUT_SZ)).isEqualTo((short) 16);
        MemorySegment in = k.last().input();
        assertThat(i32(in, TRANSLATE_VP_INDEX)).isEqualTo(3);
        assertThat(i64(in, TRANSLATE_CONTROL_FLAGS)).isEqualTo(0x11);
        assertThat(i64(in, TRANSLATE_GVA_PAGE)).isEqualTo(0x7fff_f123_4L);
    }

    @Test
    void aTranslationTheGuestsTablesRefuseIsAnAnswerWithItsResultCodeNamed() {
        KernelStandIn k = new KernelStandIn();
        k.translationFaults.put(0x7000_0L, HvConstants.HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION);
        MshvVpFd.GvaTranslation t = k.vp(0).translateVirtualAddress(0x7000_0010L, HvConstants.HV_TRANSLATE_GVA_VALIDATE_WRITE);

        assertThat(t.success()).isFalse();
        assertThat(t.gpa()).as("no address from a failed translation").isEqualTo(-1);
        assertThat(t.resultName()).isEqualTo("0x2 (HV_TRANSLATE_GVA_PRIVILEGE_VIOLATION)");
        assertThat(new MshvVpFd.GvaTranslation(0x42, -1).resultName()).isEqualTo("0x42");
    }

    @Test
    void aFailedTranslateHypercallNamesTheAddressAndTheStatus() {
        KernelStandIn k = new KernelStandIn(HvConstants.HV_STATUS_INVALID_VP_STATE, -Errno.EIO);

        assertThatThrownBy(() -> k.vp(0).translateVirtualAddress(0x7000_0010L, HvConstants.HV_TRANSLATE_GVA_VALIDATE_READ))
                .isInstanceOf(SyscallException.class)
                .hasMessageContaining("HVCALL_TRANSLATE_VIRTUAL_ADDRESS(0x70000010) failed")
                .hasMessageContaining("hypervisor status 0x15 (HV_STATUS_INVALID_VP_STATE)");
    }

    @Test
    void assertVirtualInterruptPutsTheModeBitsAboveTheType() {
        KernelStandIn k = new KernelStandIn();
        k.partition().assertVirtualInterrupt(HvConstants.HV_X64_INTERRUPT_TYPE_FIXED, 0x31, 2, true, false);
        MemorySegment in = k.last().input();

        assertThat(i64(in, ASSERT_INTERRUPT_CONTROL)).isEqualTo(1L << 32);
        assertThat(i64(in, ASSERT_INTERRUPT_DEST_ADDR)).isEqualTo(2);
        assertThat(i32(in, ASSERT_INTERRUPT_VECTOR)).isEqualTo(0x31);

        k.partition().assertVirtualInterrupt(HvConstants.HV_X64_INTERRUPT_TYPE_NMI, 2, 1, false, true);
        assertThat(i64(k.last().input(), ASSERT_INTERRUPT_CONTROL)).isEqualTo(HvConstants.HV_X64_INTERRUPT_TYPE_NMI | 1L << 33);
    }

    @Test
    void installInterceptForAPort() {
        KernelStandIn k = new KernelStandIn();
        k.partition().installIntercept(HvConstants.HV_INTERCEPT_ACCESS_MASK_READ | HvConstants.HV_INTERCEPT_ACCESS_MASK_WRITE,
                HvConstants.HV_INTERCEPT_TYPE_X64_IO_PORT, 0x3f8);
        MemorySegment in = k.last().input();

        assertThat(in.byteSize()).isEqualTo(24);
        assertThat(i32(in, INSTALL_INTERCEPT_ACCESS_TYPE)).isEqualTo(3);
        assertThat(i32(in, INSTALL_INTERCEPT_INTERCEPT_TYPE)).isEqualTo(0);
        assertThat(i64(in, INSTALL_INTERCEPT_PARAMETER)).isEqualTo(0x3f8);
    }

    @Test
    void runIsMadeOnceAndHandsEintrBack() {
        KernelStandIn k = new KernelStandIn(0, -Errno.EINTR);
        try (Arena arena = Arena.ofConfined()) {
            assertThat(k.vp(0).run(arena.allocate(256))).isEqualTo(-Errno.EINTR);
        }
        assertThat(k.calls).hasSize(1);
        assertThat(k.last().request()).isEqualTo(MshvIoctls.MSHV_RUN_VP);
    }

    @Test
    void otherIoctlsRepeatAfterEintrAndNameTheCallOnFailure() {
        KernelStandIn k = new KernelStandIn(0, -Errno.EINTR, -Errno.EEXIST);
        assertThatThrownBy(() -> k.partition().createVp(1))
                .isInstanceOf(SyscallException.class).hasMessageStartingWith("MSHV_CREATE_VP(1) failed: EEXIST");
        assertThat(k.calls).hasSize(2);
    }

    @Test
    void aClosedDescriptorRefusesCalls() {
        MshvPartitionFd p = new KernelStandIn().partition();
        p.close();
        assertThatThrownBy(p::initialize).isInstanceOf(HypervisorException.class).hasMessageContaining("is closed");
    }
}
