package dev.nimbus.mshv;

import dev.nimbus.arch.x86_64.X86_64Platform;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.LibC;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.memory.GuestRegion;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.LapicState;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.HvRegisterName;
import dev.nimbus.mshv.abi.MshvIoctls;
import dev.nimbus.mshv.fd.KernelStandIn;
import dev.nimbus.mshv.intercept.MessageBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

import static dev.nimbus.mshv.abi.HvConstants.*;
import static dev.nimbus.mshv.abi.HvStructs.*;
import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The MSHV backend's SPI objects, the VM and the vCPU, against a stand-in for the kernel ({@link KernelStandIn}:
 * no machine here has /dev/mshv, and nothing here has run on one). The descriptors the stand-in hands out are
 * real ones of /dev/null, since closing a descriptor object closes its number.
 */
class MshvVmTest {
    final KernelStandIn kernel = new KernelStandIn();
    final List<Integer> opened = new ArrayList<>();
    MshvVm vm;

    MshvVmTest() {
        kernel.newFd = () -> {
            int fd = LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
            opened.add(fd);
            return fd;
        };
        vm = MshvHypervisor.createVm(new X86_64Platform().vmOptions(), kernel.system());
    }

    @AfterEach
    void close() {
        vm.close();
    }

    private List<KernelStandIn.Call> calls(long request) {
        return kernel.calls.stream().filter(c -> c.request() == request).toList();
    }

    private static int hvcallCode(KernelStandIn.Call c) {
        return Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_CODE));
    }

    /**
     * The registers the {@code HVCALL_SET_VP_REGISTERS} calls since the last {@code kernel.calls.clear()} set, in
     * order, each as its 16-byte value (the descriptor splits a batch into hypercalls of 6 registers).
     */
    private List<java.util.Map.Entry<String, MemorySegment>> setSinceClear() {
        List<java.util.Map.Entry<String, MemorySegment>> out = new ArrayList<>();
        for (KernelStandIn.Call c : kernel.calls) {
            if (c.request() != MshvIoctls.MSHV_ROOT_HVCALL || hvcallCode(c) != HVCALL_SET_VP_REGISTERS) {
                continue;
            }
            MemorySegment in = c.input();
            for (long e = VP_REGISTERS_ELEMENTS; e < in.byteSize(); e += HV_REGISTER_ASSOC.byteSize()) {
                int name = in.get(JAVA_INT_UNALIGNED, e + REGISTER_ASSOC_NAME);
                String n = Arrays.stream(HvRegisterName.values()).filter(r -> r.value() == name).findFirst().orElseThrow().name();
                out.add(java.util.Map.entry(n, in.asSlice(e + REGISTER_ASSOC_VALUE, 16)));
            }
        }
        return out;
    }

    /** {@link #setSinceClear()} as {@code NAME=hex} of each value's first word. */
    private List<String> lastSet() {
        return setSinceClear().stream().map(e -> e.getKey() + "=" + Long.toHexString(e.getValue().get(JAVA_LONG_UNALIGNED, 0))).toList();
    }

    @Test
    void aVmIsAPartitionWithTheLocalApicInitializedWithCpuidIntercepted() {
        assertThat(kernel.calls).extracting(KernelStandIn.Call::request).containsExactly(MshvIoctls.MSHV_CREATE_PARTITION,
                MshvIoctls.MSHV_INITIALIZE_PARTITION, MshvIoctls.MSHV_ROOT_HVCALL);
        assertThat(kernel.calls.getFirst().argument().get(JAVA_LONG_UNALIGNED, CREATE_PARTITION_PT_FLAGS)).isEqualTo(0b111);
        KernelStandIn.Call intercept = kernel.calls.getLast();
        assertThat(hvcallCode(intercept)).isEqualTo(HVCALL_INSTALL_INTERCEPT);
        assertThat(intercept.input().get(JAVA_INT_UNALIGNED, INSTALL_INTERCEPT_INTERCEPT_TYPE)).isEqualTo(HV_INTERCEPT_TYPE_X64_CPUID);
        assertThat(intercept.input().get(JAVA_INT_UNALIGNED, INSTALL_INTERCEPT_ACCESS_TYPE)).isEqualTo(HV_INTERCEPT_ACCESS_MASK_EXECUTE);
    }

    @Test
    void aMemoryRegionIsMappedAndReplacingItsSlotUnmapsTheOldOne() {
        MemorySegment host = Arena.ofAuto().allocate(0x2000, 4096);
        vm.setMemoryRegion(MemoryRegion.ram(0, new GuestRegion(0x10_0000, host)));
        vm.setMemoryRegion(new MemoryRegion(0, new GuestRegion(0x20_0000, host), true, false));
        vm.removeMemoryRegion(0);

        List<KernelStandIn.Call> mem = calls(MshvIoctls.MSHV_SET_GUEST_MEMORY);
        assertThat(mem).hasSize(4);
        assertThat(mem).extracting(c -> c.argument().get(JAVA_LONG_UNALIGNED, MEM_REGION_GUEST_PFN)).containsExactly(0x100L, 0x100L, 0x200L, 0x200L);
        // writable + executable, unmap, executable only (read-only), unmap
        assertThat(mem).extracting(c -> c.argument().get(JAVA_BYTE, MEM_REGION_FLAGS)).containsExactly((byte) 0b011, (byte) 0b100, (byte) 0b010, (byte) 0b100);
        assertThat(mem.getFirst().argument().get(JAVA_LONG_UNALIGNED, MEM_REGION_USERSPACE_ADDR)).isEqualTo(host.address());
    }

    @Test
    void guestRamForInsAndOutsIsTheInstalledRegions() {
        MemorySegment host = Arena.ofAuto().allocate(0x2000, 4096);
        host.set(JAVA_BYTE, 0x123, (byte) 0x5a);
        vm.setMemoryRegion(MemoryRegion.ram(3, new GuestRegion(0x10_0000, host)));
        assertThat(vm.at(0x10_0123, 1).get(JAVA_BYTE, 0)).isEqualTo((byte) 0x5a);
        assertThat(vm.at(0x10_1fff, 2)).as("runs past the region").isNull();
        assertThat(vm.at(0x30_0000, 1)).isNull();
    }

    @Test
    void whatTheHypervisorHasNoPlaceForIsRefusedNamingIt() {
        MemorySegment host = Arena.ofAuto().allocate(0x1000, 4096);
        assertThatThrownBy(() -> vm.setMemoryRegion(new MemoryRegion(0, new GuestRegion(0, host), false, true)))
                .isInstanceOf(HypervisorException.class).hasMessageContaining("dirty logging");
        assertThatThrownBy(() -> vm.createIrqChip(new IrqChipConfig.X86Legacy(0xfffbd000L, 0xfffbc000L, true)))
                .isInstanceOf(HypervisorException.class).hasMessageContaining("no in-kernel IOAPIC");
        assertThatThrownBy(() -> vm.setGsiRouting(List.of(new GsiRoute.IrqchipPin(4, 2, 4))))
                .isInstanceOf(HypervisorException.class).hasMessageContaining("GSI 4 routes to pin 4 of irqchip 2");
        try (EventFd fd = EventFd.create()) {
            assertThatThrownBy(() -> vm.registerIoeventfd(fd, IoEventAddress.mmio(0xd000_0000L, 0), OptionalLong.empty()))
                    .isInstanceOf(HypervisorException.class).hasMessageContaining("must name its length");
        }
        assertThat(vm.irqChip()).isEmpty();
    }

    @Test
    void msiRoutesIrqfdsAndIoeventfdsReachTheirIoctls() {
        vm.setGsiRouting(List.of(new GsiRoute.Msi(24, MsiMessage.of(0xfee0_1000L, 0x4031))));
        MemorySegment table = calls(MshvIoctls.MSHV_SET_MSI_ROUTING).getLast().argument();
        assertThat(table.get(JAVA_INT_UNALIGNED, IRQ_TABLE_NR)).isEqualTo(1);
        assertThat(table.get(JAVA_INT_UNALIGNED, IRQ_TABLE_ENTRIES + IRQ_ENTRY_GSI)).isEqualTo(24);
        assertThat(table.get(JAVA_INT_UNALIGNED, IRQ_TABLE_ENTRIES + IRQ_ENTRY_ADDRESS_LO)).isEqualTo(0xfee0_1000);
        assertThat(table.get(JAVA_INT_UNALIGNED, IRQ_TABLE_ENTRIES + IRQ_ENTRY_DATA)).isEqualTo(0x4031);
        try (EventFd fd = EventFd.create()) {
            vm.registerIrqfd(fd, 24);
            MemorySegment irqfd = calls(MshvIoctls.MSHV_IRQFD).getLast().argument();
            assertThat(new int[] {irqfd.get(JAVA_INT_UNALIGNED, IRQFD_FD), irqfd.get(JAVA_INT_UNALIGNED, IRQFD_GSI)}).containsExactly(fd.fd(), 24);
            vm.registerIoeventfd(fd, IoEventAddress.pio(0x3f8, 1), OptionalLong.of(7));
            MemorySegment io = calls(MshvIoctls.MSHV_IOEVENTFD).getLast().argument();
            assertThat(io.get(JAVA_LONG_UNALIGNED, IOEVENTFD_ADDR)).isEqualTo(0x3f8);
            assertThat(io.get(JAVA_LONG_UNALIGNED, IOEVENTFD_DATAMATCH)).isEqualTo(7);
            assertThat(io.get(JAVA_INT_UNALIGNED, IOEVENTFD_FLAGS)).as("datamatch and pio").isEqualTo(0b011);
        }
    }

    @Test
    void theGeneralRegistersAreOneBatchInTheSpisOrder() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(2);
        assertThat(calls(MshvIoctls.MSHV_CREATE_VP).getLast().argument().get(JAVA_INT_UNALIGNED, CREATE_VP_VP_INDEX)).isEqualTo(2);
        kernel.calls.clear();
        vcpu.setRegs(new X86Regs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1000, 0x2));
        assertThat(kernel.calls).allSatisfy(c -> assertThat(c.input().get(JAVA_INT_UNALIGNED, VP_REGISTERS_VP_INDEX)).isEqualTo(2));
        assertThat(lastSet()).containsExactly("RAX=1", "RBX=2", "RCX=3", "RDX=4", "RSI=5", "RDI=6", "RSP=7", "RBP=8", "R8=9", "R9=a",
                "R10=b", "R11=c", "R12=d", "R13=e", "R14=f", "R15=10", "RIP=1000", "RFLAGS=2");

        kernel.registers.put(HvRegisterName.RSP.value(), 0x7000L);
        kernel.registers.put(HvRegisterName.RIP.value(), 0xffff_ffff_8100_0000L);
        X86Regs r = vcpu.getRegs();
        assertThat(new long[] {r.rsp(), r.rip()}).containsExactly(0x7000L, 0xffff_ffff_8100_0000L);
    }

    static final X86Segment CODE64 = new X86Segment(0, 0xffff_ffff, 0x10, 0xb, true, 0, false, true, true, true, false, false);
    static final X86Segment DATA = new X86Segment(0, 0xffff_ffff, 0x18, 0x3, true, 0, true, true, false, true, false, false);
    static final X86Segment UNUSABLE = new X86Segment(0, 0, 0, 0, false, 0, false, false, false, false, false, true);

    @Test
    void theSystemRegistersAreOneBatchWithSegmentsInTheHypervisorsAttributeBits() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        X86Segment tss = new X86Segment(0x1000, 0x67, 0x28, 0xb, true, 0, false, false, false, false, false, false);
        kernel.calls.clear();
        vcpu.setSregs(new X86Sregs(CODE64, DATA, DATA, DATA, DATA, DATA, tss, UNUSABLE, new X86DescriptorTable(0x500, 0x1f),
                new X86DescriptorTable(0x520, 0xfff), 0x8000_0011L, 0, 0x9000, 0x20, 0, 0x500, 0xfee0_0900L, new long[4]));
        List<String> set = lastSet();
        assertThat(set).extracting(s -> s.substring(0, s.indexOf('='))).containsExactly("CS", "DS", "ES", "FS", "GS", "SS", "TR", "LDTR",
                "GDTR", "IDTR", "CR0", "CR2", "CR3", "CR4", "CR8", "EFER", "APIC_BASE");
        assertThat(set).contains("CR0=80000011", "CR3=9000", "EFER=500", "APIC_BASE=fee00900");
        List<java.util.Map.Entry<String, MemorySegment>> values = setSinceClear();
        MemorySegment cs = values.get(0).getValue();
        // type b, S, P, L, G: 0xa09b
        assertThat(Short.toUnsignedInt(cs.get(JAVA_SHORT_UNALIGNED, SEGMENT_ATTRIBUTES))).isEqualTo(0xa09b);
        assertThat(Short.toUnsignedInt(cs.get(JAVA_SHORT_UNALIGNED, SEGMENT_SELECTOR))).isEqualTo(0x10);
        MemorySegment gdt = values.get(8).getValue();
        assertThat(gdt.get(JAVA_LONG_UNALIGNED, TABLE_BASE)).isEqualTo(0x500);
        assertThat(Short.toUnsignedInt(gdt.get(JAVA_SHORT_UNALIGNED, TABLE_LIMIT))).isEqualTo(0x1f);
        assertThat(values.get(7).getValue().get(JAVA_SHORT_UNALIGNED, SEGMENT_ATTRIBUTES)).as("unusable: not present").isZero();
    }

    @Test
    void aSegmentReadsBackAsItWasWritten() {
        MemorySegment v = Arena.ofAuto().allocate(16);
        for (X86Segment s : List.of(CODE64, DATA, UNUSABLE)) {
            MshvVcpu.putSegment(v, s);
            assertThat(MshvVcpu.segment(v)).isEqualTo(s);
        }
    }

    @Test
    void msrsMapOntoRegisterNamesAndAnUnmappedOneIsNamed() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        kernel.calls.clear();
        vcpu.setMsrs(List.of(new Msr(0xc0000080, 0x500), new Msr(0xc0000082, 0xffff_ffff_8100_0000L)));
        assertThat(lastSet()).containsExactly("EFER=500", "LSTAR=ffffffff81000000");
        assertThatThrownBy(() -> vcpu.setMsrs(List.of(new Msr(0x48, 1))))
                .isInstanceOf(HypervisorException.class).hasMessageContaining("MSR 0x48");
        kernel.registers.put(HvRegisterName.PAT.value(), 0x0007_0406_0007_0406L);
        assertThat(vcpu.getMsrs(0x48, 0x277)).containsExactly(new Msr(0x277, 0x0007_0406_0007_0406L));
    }

    @Test
    void theFpuIsOneBatchOfXmmStAndTheControlRegistersInTheHypervisorsFormat() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        byte[] fpr = new byte[128];
        byte[] xmm = new byte[256];
        for (int i = 0; i < 16; i++) {
            xmm[16 * i] = (byte) (0x40 + i);
            xmm[16 * i + 15] = (byte) (0x80 + i);
        }
        for (int i = 0; i < 8; i++) {
            fpr[16 * i] = (byte) (0x10 + i);
            fpr[16 * i + 9] = (byte) (0x20 + i);
        }
        kernel.calls.clear();
        vcpu.setFpu(new X86Fpu(fpr, 0x37f, 0x4000, 0x81, 0x7d9, 0xffff_ffff_8100_1234L, 0x7000_5678L, xmm, 0x1f80));
        List<java.util.Map.Entry<String, MemorySegment>> set = setSinceClear();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            names.add("XMM" + i);
        }
        for (int i = 0; i < 8; i++) {
            names.add("FP_MMX" + i);
        }
        names.addAll(List.of("FP_CONTROL_STATUS", "XMM_CONTROL_STATUS"));
        assertThat(set).extracting(java.util.Map.Entry::getKey).containsExactlyElementsOf(names);
        assertThat(set.get(3).getValue().toArray(JAVA_BYTE)).containsExactly(Arrays.copyOfRange(xmm, 48, 64));
        assertThat(set.get(16 + 5).getValue().toArray(JAVA_BYTE)).containsExactly(Arrays.copyOfRange(fpr, 80, 96));
        // the TLFS formats: FCW at 0, FSW at 2, the abridged tag at 4, the opcode at 6, RIP at 8; RDP at 0, MXCSR at 8
        MemorySegment control = set.get(24).getValue();
        assertThat(control.get(JAVA_LONG_UNALIGNED, 0)).isEqualTo(0x07d9_0081_4000_037fL);
        assertThat(control.get(JAVA_LONG_UNALIGNED, 8)).isEqualTo(0xffff_ffff_8100_1234L);
        MemorySegment xmmControl = set.get(25).getValue();
        assertThat(xmmControl.get(JAVA_LONG_UNALIGNED, 0)).isEqualTo(0x7000_5678L);
        assertThat(xmmControl.get(JAVA_LONG_UNALIGNED, 8)).as("MXCSR, and MXCSR_MASK 0").isEqualTo(0x1f80L);
    }

    @Test
    void theFpuReadsBackFromTheHypervisorsFormat() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        kernel.registers.put(HvRegisterName.XMM15.value(), 0x1122_3344_5566_7788L);
        kernel.registersHigh.put(HvRegisterName.XMM15.value(), 0x99aa_bbcc_ddee_ff00L);
        kernel.registers.put(HvRegisterName.FP_MMX0.value(), 0x8000_0000_0000_0000L);
        kernel.registersHigh.put(HvRegisterName.FP_MMX0.value(), 0x3fffL);
        kernel.registers.put(HvRegisterName.FP_CONTROL_STATUS.value(), 0x0123_00ff_3800_027fL);
        kernel.registersHigh.put(HvRegisterName.FP_CONTROL_STATUS.value(), 0x40_1000L);
        kernel.registers.put(HvRegisterName.XMM_CONTROL_STATUS.value(), 0x60_2000L);
        kernel.registersHigh.put(HvRegisterName.XMM_CONTROL_STATUS.value(), 0xffff_0000_1fa0L);
        X86Fpu f = vcpu.getFpu();
        assertThat(new long[] {f.fcw(), f.fsw(), f.ftwx(), f.lastOpcode(), f.lastIp(), f.lastDp(), f.mxcsr()})
                .containsExactly(0x27f, 0x3800, 0xff, 0x123, 0x40_1000L, 0x60_2000L, 0x1fa0);
        MemorySegment xmm15 = MemorySegment.ofArray(f.xmm()).asSlice(16 * 15, 16);
        assertThat(new long[] {xmm15.get(JAVA_LONG_UNALIGNED, 0), xmm15.get(JAVA_LONG_UNALIGNED, 8)})
                .containsExactly(0x1122_3344_5566_7788L, 0x99aa_bbcc_ddee_ff00L);
        MemorySegment st0 = MemorySegment.ofArray(f.fpr()).asSlice(0, 16);
        assertThat(new long[] {st0.get(JAVA_LONG_UNALIGNED, 0), st0.get(JAVA_LONG_UNALIGNED, 8)}).as("1.0 as an 80-bit value")
                .containsExactly(0x8000_0000_0000_0000L, 0x3fffL);
    }

    @Test
    void theMpStateIsTheInternalActivityRegister() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(1);
        kernel.calls.clear();
        vcpu.setMpState(MpState.UNINITIALIZED);
        vcpu.setMpState(MpState.RUNNABLE);
        vcpu.setMpState(MpState.HALTED);
        assertThat(lastSet()).containsExactly("INTERNAL_ACTIVITY_STATE=1", "INTERNAL_ACTIVITY_STATE=0", "INTERNAL_ACTIVITY_STATE=2");
        kernel.registers.put(HvRegisterName.INTERNAL_ACTIVITY_STATE.value(), 1L);
        assertThat(vcpu.getMpState()).isEqualTo(MpState.UNINITIALIZED);
        kernel.registers.put(HvRegisterName.INTERNAL_ACTIVITY_STATE.value(), 2L);
        assertThat(vcpu.getMpState()).isEqualTo(MpState.HALTED);
        kernel.registers.put(HvRegisterName.INTERNAL_ACTIVITY_STATE.value(), 0L);
        assertThat(vcpu.getMpState()).isEqualTo(MpState.RUNNABLE);
    }

    @Test
    void anMpStateTheHypervisorCannotHoldIsRefusedNamingIt() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(1);
        kernel.calls.clear();
        assertThatThrownBy(() -> vcpu.setMpState(MpState.INIT_RECEIVED)).isInstanceOf(HypervisorException.class)
                .hasMessageContaining("MP state INIT_RECEIVED");
        assertThatThrownBy(() -> vcpu.setMpState(MpState.STOPPED)).hasMessageContaining("MP state STOPPED");
        assertThat(kernel.calls).isEmpty();
        kernel.registers.put(HvRegisterName.INTERNAL_ACTIVITY_STATE.value(), 4L);
        assertThatThrownBy(vcpu::getMpState).isInstanceOf(HypervisorException.class).hasMessageContaining("0x4 (idle suspend)");
    }

    /**
     * The hypervisor's local interrupt controller state as the TLFS lays it out (the offsets written here, not
     * the backend's layout): id 0, version 4, LDR 8, DFR 12, spurious 16, ISR 20, TMR 52, IRR 84, ESR 116,
     * ICR high 120 and low 124, LVT timer 128, thermal 132, perfmon 136, LINT0 140, LINT1 144, error 148,
     * CMCI 152, error status 156, initial count 160, current count 164, divide 168, remote read 172.
     */
    private static byte[] hvLapic() {
        MemorySegment s = MemorySegment.ofArray(new byte[176]);
        for (int i = 0; i < 44; i++) {
            s.set(JAVA_INT_UNALIGNED, 4L * i, 0x1000 + i);
        }
        return s.toArray(JAVA_BYTE);
    }

    @Test
    void theLapicIsTheHypervisorsStateAtTheXapicOffsetsWithTheTprFromCr8() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        kernel.vpState.put(0, hvLapic());
        kernel.registers.put(HvRegisterName.CR8.value(), 3L);
        kernel.calls.clear();
        LapicState l = vcpu.getLapic();

        MemorySegment arg = calls(MshvIoctls.MSHV_GET_VP_STATE).getFirst().argument();
        assertThat(arg.get(JAVA_BYTE, VP_STATE_TYPE)).as("MSHV_VP_STATE_LAPIC").isEqualTo((byte) 0);
        assertThat(arg.get(JAVA_INT_UNALIGNED, VP_STATE_BUF_SZ)).isEqualTo(4096);
        assertThat(arg.get(JAVA_LONG_UNALIGNED, VP_STATE_BUF_PTR) % 4096).isZero();
        int[][] expected = {{0x20, 0}, {0x30, 1}, {0xd0, 2}, {0xe0, 3}, {0xf0, 4}, {0x100, 5}, {0x170, 12}, {0x180, 13},
            {0x1f0, 20}, {0x200, 21}, {0x270, 28}, {0x280, 29}, {0x310, 30}, {0x300, 31}, {0x320, 32}, {0x330, 33},
            {0x340, 34}, {0x350, 35}, {0x360, 36}, {0x370, 37}, {0x2f0, 38}, {0x380, 40}, {0x390, 41}, {0x3e0, 42},
            {0xc0, 43}};
        for (int[] e : expected) {
            assertThat(l.register(e[0])).as("register 0x%x", e[0]).isEqualTo(0x1000 + e[1]);
        }
        assertThat(l.register(0x80)).as("TPR = CR8 << 4").isEqualTo(0x30);
        assertThat(l.register(0xa0)).as("PPR: not in the hypervisor's state").isZero();
    }

    @Test
    void settingTheLapicWritesItsRegistersIntoTheHypervisorsStateAndKeepsWhatThePageLacks() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        kernel.vpState.put(0, hvLapic());
        LapicState page = new LapicState(new byte[LapicState.SIZE]).withRegister(0x350, 0x700).withRegister(0x360, 0x400)
                .withRegister(0xf0, 0x1ff).withRegister(0x170, 0x8000_0000).withRegister(0x80, 0x50);
        kernel.calls.clear();
        vcpu.setLapic(page);

        assertThat(kernel.calls).extracting(KernelStandIn.Call::request).startsWith(MshvIoctls.MSHV_GET_VP_STATE,
                MshvIoctls.MSHV_SET_VP_STATE);
        KernelStandIn.Call set = calls(MshvIoctls.MSHV_SET_VP_STATE).getFirst();
        assertThat(set.argument().get(JAVA_BYTE, VP_STATE_TYPE)).isEqualTo((byte) 0);
        MemorySegment hv = set.input();
        assertThat(hv.byteSize()).isEqualTo(4096);
        assertThat(hv.get(JAVA_INT_UNALIGNED, 140)).as("LINT0").isEqualTo(0x700);
        assertThat(hv.get(JAVA_INT_UNALIGNED, 144)).as("LINT1").isEqualTo(0x400);
        assertThat(hv.get(JAVA_INT_UNALIGNED, 16)).as("spurious").isEqualTo(0x1ff);
        assertThat(hv.get(JAVA_INT_UNALIGNED, 48)).as("ISR bits 224-255").isEqualTo(0x8000_0000);
        assertThat(hv.get(JAVA_INT_UNALIGNED, 0)).as("APIC id from the page").isZero();
        assertThat(hv.get(JAVA_INT_UNALIGNED, 156)).as("error status: not in the page, kept").isEqualTo(0x1000 + 39);
        assertThat(lastSet()).containsExactly("CR8=5");
    }

    @Test
    void theSupportedCpuidIsWhatTheHypervisorAnswersTheVpWithSubleavesAndWithoutItsOwnLeaves() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(1);
        List<String> asked = new ArrayList<>();
        kernel.cpuid = (leaf, sub) -> {
            asked.add(Integer.toHexString(leaf) + "." + sub);
            return switch (leaf) {
                case 0 -> new int[] {0xd, 0x756e6547, 0x6c65746e, 0x49656e69};
                case 1 -> new int[] {0x806f8, 0x800, 0x80000000, 0};
                case 4 -> sub < 2 ? new int[] {0x21 + 0x20 * sub, 0, 0, 0} : null; // data, instruction, then type 0
                case 7 -> sub == 0 ? new int[] {1, 0x29c6fbf, 0, 0} : sub == 1 ? new int[] {0x1c30, 0, 0, 0} : new int[] {9, 9, 9, 9};
                case 0xb -> sub < 2 ? new int[] {sub, 1, (sub + 1) << 8 | sub, 1} : new int[] {0, 0, sub, 1};
                case 0xd -> sub == 0 ? new int[] {7, 0x340, 0x340, 0} : sub == 2 ? new int[] {0x100, 0x240, 0, 0} : null;
                case 0x8000_0000 -> new int[] {0x8000_0008, 0, 0, 0};
                case 0x8000_0008 -> new int[] {0x3027, 0, 0, 0};
                default -> null;
            };
        };
        kernel.calls.clear();
        List<CpuidEntry> cpuid = vcpu.supportedCpuid();

        assertThat(cpuid).contains(new CpuidEntry(0, 0, false, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69),
                new CpuidEntry(1, 0, false, 0x806f8, 0x800, 0x80000000, 0),
                new CpuidEntry(0x8000_0008, 0, false, 0x3027, 0, 0, 0));
        assertThat(cpuid).filteredOn(e -> e.function() == 4).extracting(CpuidEntry::index).as("up to the null cache").containsExactly(0, 1, 2);
        assertThat(cpuid).filteredOn(e -> e.function() == 7).extracting(CpuidEntry::index).as("subleaf 0's count").containsExactly(0, 1);
        assertThat(cpuid).filteredOn(e -> e.function() == 0xb).extracting(CpuidEntry::index).containsExactly(0, 1, 2);
        assertThat(cpuid).filteredOn(e -> e.function() == 0xd).extracting(CpuidEntry::index).as("XSAVE components that answer")
                .containsExactly(0, 1, 2);
        assertThat(cpuid).filteredOn(e -> e.function() == 7).allMatch(CpuidEntry::indexed);
        assertThat(cpuid).filteredOn(e -> e.function() == 1).noneMatch(CpuidEntry::indexed);
        assertThat(cpuid).extracting(CpuidEntry::function).doesNotContain(0xe, 0x4000_0000, 0x8000_0009);
        assertThat(asked).noneMatch(q -> q.startsWith("4000"));

        List<KernelStandIn.Call> hv = calls(MshvIoctls.MSHV_ROOT_HVCALL);
        assertThat(hv).allSatisfy(c -> {
            assertThat(hvcallCode(c)).isEqualTo(HVCALL_GET_VP_CPUID_VALUES);
            int reps = Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_REPS));
            assertThat(reps).isBetween(1, 8);
            // the TLFS input: partition id, VP index at 8, flags at 12 (use the VP's XCR0/XSS, apply registered values), leaves from 24
            assertThat(c.input().get(JAVA_INT_UNALIGNED, 8)).isEqualTo(1);
            assertThat(c.input().get(JAVA_INT_UNALIGNED, 12)).isEqualTo(0b11);
            assertThat(c.input().byteSize()).isEqualTo(24 + 24L * reps);
            assertThat(Short.toUnsignedInt(c.argument().get(JAVA_SHORT_UNALIGNED, ROOT_HVCALL_OUT_SZ))).isEqualTo(16 * reps);
        });
        assertThat(hv.size()).as("batched").isLessThan(asked.size() / 4);
    }

    @Test
    void runAnswersCpuidInPlaceAndReturnsThePortWriteAfterIt() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(1);
        vcpu.setCpuid(List.of(new CpuidEntry(1, 0, false, 0x806f8, 0x800, 0, 0)));
        kernel.messages.add(new MessageBuilder(HVMSG_X64_CPUID_INTERCEPT).header(HV_INTERCEPT_ACCESS_EXECUTE, 0x1000, 2)
                .u64(CPUID_RAX, 1).message);
        kernel.messages.add(new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT).header(HV_INTERCEPT_ACCESS_WRITE, 0x1002, 1)
                .u16(IO_PORT_NUMBER, 0x3f8).u8(IO_ACCESS_INFO, 1).u64(IO_RAX, 'N').message);

        kernel.calls.clear();
        VcpuExit.IoOut out = (VcpuExit.IoOut) vcpu.run();
        assertThat(out.value()).isEqualTo('N');
        assertThat(calls(MshvIoctls.MSHV_RUN_VP)).hasSize(2);
        assertThat(lastSet()).as("the CPUID answer").containsExactly("RAX=806f8", "RBX=800", "RCX=0", "RDX=0", "RIP=1002");
    }

    @Test
    void aKickAfterAnExitStillCompletesItAndReturnsWithoutEnteringTheGuest() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(1);
        kernel.messages.add(new MessageBuilder(HVMSG_X64_IO_PORT_INTERCEPT).header(HV_INTERCEPT_ACCESS_READ, 0x1000, 1)
                .u16(IO_PORT_NUMBER, 0x3fd).u8(IO_ACCESS_INFO, 1).u64(IO_RAX, 0).message);
        kernel.calls.clear();
        VcpuExit.IoIn in = (VcpuExit.IoIn) vcpu.run();
        in.respond(0x60);
        vcpu.kick();

        assertThat(vcpu.run()).isSameAs(VcpuExit.INTERRUPTED);
        assertThat(lastSet()).containsExactly("RAX=60", "RIP=1001");
        assertThat(calls(MshvIoctls.MSHV_RUN_VP)).as("the guest was not entered again").hasSize(1);
    }

    @Test
    void aKickWhoseSignalIsLostBeforeTheGuestIsEnteredIsSentAgain() throws Exception {
        // the stand-in's MSHV_RUN_VP plays the window: the first signal arrived before the ioctl (spent on the
        // no-op handler), so only a second one ends the run with EINTR
        java.util.concurrent.atomic.AtomicInteger signals = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        kernel.runVp = () -> {
            int seen = signals.get();
            entered.countDown();
            while (signals.get() < seen + 2) {
                Thread.onSpinWait();
            }
            return -dev.nimbus.host.Errno.EINTR;
        };
        var vp = kernel.vp(0);
        MshvVcpu vcpu = new MshvVcpu(vp, new dev.nimbus.mshv.vp.InterceptHandler(vp, null, vm), Arena.ofAuto(),
                tid -> signals.incrementAndGet());
        java.util.concurrent.CompletableFuture<VcpuExit> run = java.util.concurrent.CompletableFuture.supplyAsync(vcpu::run,
                r -> Thread.ofPlatform().daemon().start(r));
        assertThat(entered.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        vcpu.kick();
        assertThat(run.get(5, java.util.concurrent.TimeUnit.SECONDS)).isSameAs(VcpuExit.INTERRUPTED);
        assertThat(signals.get()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void aMessageThisBackendDoesNotHandleIsAnUnknownExitNamingIt() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        kernel.messages.add(new MessageBuilder(HVMSG_X64_SIPI_INTERCEPT).message);
        VcpuExit.Unknown u = (VcpuExit.Unknown) vcpu.run();
        assertThat(u.reason()).isEqualTo(HVMSG_X64_SIPI_INTERCEPT);
        assertThat(u.detail()).contains("HVMSG_X64_SIPI_INTERCEPT");
    }

    @Test
    void theApicEoiMessageIsTheIoapicEoiExitOfItsVectorWithNothingWrittenBack() {
        vm.createIrqChip(new IrqChipConfig.X86Split(0xfffbd000L, 0xfffbc000L, 24));
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(2);
        // hv_x64_apic_eoi_message: vp_index at 0, interrupt_vector at 4
        kernel.messages.add(new MessageBuilder(HVMSG_X64_APIC_EOI).u32(0, 2).u32(4, 0x31).message);
        kernel.messages.add(new MessageBuilder(HVMSG_X64_APIC_EOI).u32(0, 2).u32(4, 0x31).message);
        kernel.calls.clear();
        VcpuExit first = vcpu.run();
        assertThat(first).isEqualTo(new VcpuExit.IoapicEoi(0x31));
        assertThat(vcpu.run()).as("one exit object per vector: an EOI allocates nothing").isSameAs(first);
        assertThat(calls(MshvIoctls.MSHV_ROOT_HVCALL)).as("no register write-back").isEmpty();
    }

    @Test
    void theSplitIrqchipIsTheHypervisorsLocalApicsAndTheInKernelOneIsRefusedNamingWhy() {
        assertThatThrownBy(() -> vm.createIrqChip(new IrqChipConfig.X86Legacy(0xfffbd000L, 0xfffbc000L, true)))
                .isInstanceOf(HypervisorException.class).hasMessageContaining("no in-kernel IOAPIC").hasMessageContaining("split");
        assertThat(vm.irqChip()).isEmpty();
        var chip = vm.createIrqChip(new IrqChipConfig.X86Split(0xfffbd000L, 0xfffbc000L, 24));
        assertThat(vm.irqChip()).contains(chip);
        assertThat(chip.lineRoutes()).isEmpty();
        assertThatThrownBy(() -> chip.setIrqLine(4, true)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("IOAPIC is the VMM's");
        assertThatThrownBy(() -> vm.createIrqChip(new IrqChipConfig.X86Split(0, 0, 24))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void theIrqchipComesBeforeTheFirstVp() {
        vm.createVcpu(0);
        assertThatThrownBy(() -> vm.createIrqChip(new IrqChipConfig.X86Split(0xfffbd000L, 0xfffbc000L, 24)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("before the first vCPU");
    }

    @Test
    void anMsiIsAssertedOnTheLocalApicItNamesLevelTriggeredWhenItsDataSaysSo() {
        var chip = vm.createIrqChip(new IrqChipConfig.X86Split(0xfffbd000L, 0xfffbc000L, 24));
        kernel.calls.clear();
        // the IOAPIC's level pin: APIC id 1, vector 0x31, fixed, level-triggered (bit 15) and asserted (bit 14)
        chip.signalMsi(MsiMessage.of(0xfee0_1000L, 0xc031));
        // an edge MSI-X vector in logical destination mode (address bit 2), lowest priority (delivery mode 1)
        chip.signalMsi(MsiMessage.of(0xfee0_3004L, 0x0141));
        // bit 14 alone (asserted, edge-triggered) is no level interrupt
        chip.signalMsi(MsiMessage.of(0xfee0_0000L, 0x4022));
        List<KernelStandIn.Call> hv = calls(MshvIoctls.MSHV_ROOT_HVCALL);
        assertThat(hv).extracting(MshvVmTest::hvcallCode).containsOnly(HVCALL_ASSERT_VIRTUAL_INTERRUPT);
        // hv_input_assert_virtual_interrupt: control at 8 (type, then level bit 32, logical bit 33), dest_addr 16, vector 24
        MemorySegment level = hv.get(0).input();
        assertThat(level.get(JAVA_LONG_UNALIGNED, 8)).isEqualTo(1L << 32);
        assertThat(level.get(JAVA_LONG_UNALIGNED, 16)).isEqualTo(1);
        assertThat(level.get(JAVA_INT_UNALIGNED, 24)).isEqualTo(0x31);
        MemorySegment edge = hv.get(1).input();
        assertThat(edge.get(JAVA_LONG_UNALIGNED, 8)).isEqualTo(1L << 33 | HV_X64_INTERRUPT_TYPE_LOWESTPRIORITY);
        assertThat(edge.get(JAVA_LONG_UNALIGNED, 16)).isEqualTo(3);
        assertThat(edge.get(JAVA_INT_UNALIGNED, 24)).isEqualTo(0x41);
        assertThat(hv.get(2).input().get(JAVA_LONG_UNALIGNED, 8)).isZero();
        assertThatThrownBy(() -> chip.signalMsi(MsiMessage.of(0xfec0_0000L, 0x31))).isInstanceOf(HypervisorException.class)
                .hasMessageContaining("address 0xfec00000");
    }

    @Test
    void closingTheVmClosesItsVpsAndThePartition() {
        vm.createVcpu(0);
        vm.close();
        assertThat(opened).hasSize(2).allSatisfy(fd -> assertThat(Files.exists(Path.of("/proc/self/fd/" + fd))).isFalse());
    }

    @Test
    void theBackendClaimsX8664OnlyAndIsUnusableWithoutDevMshv() {
        MshvHypervisor mshv = new MshvHypervisor();
        assertThat(mshv.architectures()).containsExactly(dev.nimbus.hypervisor.Arch.X86_64);
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.exists(Path.of("/dev/mshv")), "this host has /dev/mshv");
        assertThat(mshv.availability().usable()).isFalse();
        assertThat(mshv.availability().reason()).contains("/dev/mshv does not exist");
        assertThat(mshv.capabilities()).isEmpty();
        assertThat(mshv.maxVcpus()).isZero();
        assertThatThrownBy(() -> mshv.createVm(VmOptions.defaults())).isInstanceOf(HypervisorException.class)
                .hasMessageStartingWith("mshv: /dev/mshv does not exist");
    }

    @Test
    void whatAVmOffersIncludesTheSplitIrqchipAndNotDirtyLoggingOrAnInKernelIoapic() {
        assertThat(MshvHypervisor.CAPABILITIES).contains(dev.nimbus.hypervisor.Capability.SPLIT_IRQCHIP,
                dev.nimbus.hypervisor.Capability.SIGNAL_MSI, dev.nimbus.hypervisor.Capability.IRQFD)
                .doesNotContain(dev.nimbus.hypervisor.Capability.DIRTY_LOG, dev.nimbus.hypervisor.Capability.IN_KERNEL_IOAPIC);
        // the x86-64 platform's automatic choice is the split irqchip with these
        assertThat(new X86_64Platform().interruptController(new X86_64Platform().layout(256L << 20), 2,
                dev.nimbus.hypervisor.arch.IrqChipMode.AUTO, MshvHypervisor.CAPABILITIES)).isInstanceOf(IrqChipConfig.X86Split.class);
    }

    @Test
    void theBootMsrsAllHaveHypervisorRegisterNames() {
        MshvVcpu vcpu = (MshvVcpu) vm.createVcpu(0);
        kernel.calls.clear();
        vcpu.setMsrs(dev.nimbus.arch.x86_64.boot.VcpuSetup.bootMsrs());
        assertThat(lastSet()).contains("MSR_IA32_MISC_ENABLE=1", "MSR_MTRR_DEF_TYPE=806");
    }
}
