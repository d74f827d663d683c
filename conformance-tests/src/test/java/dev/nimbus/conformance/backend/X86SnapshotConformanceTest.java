package dev.nimbus.conformance.backend;

import dev.nimbus.arch.x86_64.cpuid.GuestCpuid;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.nimbus.conformance.backend.GuestCode.Layout.CODE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Snapshot and restore of an x86-64 vCPU and of the in-kernel interrupt controllers, through the SPI
 * ({@link Vcpu#saveState()}, {@link IrqChip#saveState()}), once per backend ({@link ConformanceKit}): a guest is
 * stopped at an exit, saved, and restored into a second VM over the same guest memory, where it runs on.
 */
@ConformanceKit
class X86SnapshotConformanceTest {
    private static final int KERNEL_GS_BASE = 0xc000_0102;
    private static final long CR4_OSFXSR = 1 << 9;
    private static final long IOAPIC_BASE = 0xfec0_0000L;

    private final KitBackend backend;

    X86SnapshotConformanceTest(KitBackend backend) {
        this.backend = backend;
    }

    @BeforeEach
    void onlyOnX86() {
        assumeTrue(Arch.host() == Arch.X86_64, "x86-64 state");
    }

    private static byte[] b(int... bytes) {
        byte[] out = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = (byte) bytes[i];
        }
        return out;
    }

    /**
     * Sets RAX, RBX, XMM1 and KERNEL_GS_BASE, writes memory, then reads port 0x3f8 (exit 1, where it is saved with
     * the read not yet completed); then reports AL (what the read returned), XMM1, the MSR and RBX at port 0x80.
     */
    private static final byte[] REGISTERS_PROGRAM = b(
            0x66, 0xb8, 0x44, 0x33, 0x22, 0x11,          // mov eax, 0x11223344
            0x66, 0xbb, 0x88, 0x77, 0x66, 0x55,          // mov ebx, 0x55667788
            0x66, 0x0f, 0x6e, 0xc8,                      // movd xmm1, eax
            0x66, 0xb9, 0x02, 0x01, 0x00, 0xc0,          // mov ecx, 0xc0000102       KERNEL_GS_BASE
            0x66, 0x31, 0xd2,                            // xor edx, edx
            0x0f, 0x30,                                  // wrmsr
            0xc6, 0x06, 0x00, 0x30, 0x5a,                // mov byte [0x3000], 0x5a
            0xba, 0xf8, 0x03,                            // mov dx, 0x3f8
            0xec,                                        // in al, dx               exit 1: saved here
            0xe6, 0x80,                                  // out 0x80, al            exit 2: what the read returned
            0x66, 0x0f, 0x7e, 0xc8,                      // movd eax, xmm1
            0x66, 0xe7, 0x80,                            // out 0x80, eax           exit 3: XMM1
            0x0f, 0x32,                                  // rdmsr
            0x66, 0xe7, 0x80,                            // out 0x80, eax           exit 4: the MSR
            0x66, 0x89, 0xd8,                            // mov eax, ebx
            0x66, 0xe7, 0x80,                            // out 0x80, eax           exit 5: RBX
            0xf4);                                       // hlt

    /** A vCPU at {@code entry} with the platform's CPUID (as {@code cpuid} changes it) and SSE enabled. */
    private static Vcpu startVcpu(TestMachine m, long entry, java.util.function.UnaryOperator<List<CpuidEntry>> cpuid) {
        Vcpu vcpu = m.vcpu(0, entry);
        X86Vcpu cpu = vcpu.as(X86Vcpu.class);
        cpu.setCpuid(cpuid.apply(GuestCpuid.forVcpu(cpu.supportedCpuid(), 0, 1)));
        X86Sregs s = cpu.getSregs();
        cpu.setSregs(new X86Sregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(),
                s.cr0(), s.cr2(), s.cr3(), s.cr4() | CR4_OSFXSR, s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap()));
        return vcpu;
    }

    private static long out80(VcpuExit exit) {
        assertThat(exit).isInstanceOf(VcpuExit.IoOut.class);
        VcpuExit.IoOut out = (VcpuExit.IoOut) exit;
        assertThat(out.port()).isEqualTo(0x80);
        return out.value();
    }

    @Test
    void aVcpuSavedAtAnExitRunsOnInANewVmFromWhereItStopped() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            IrqChip chip = m.createX86IrqChip(false);
            m.load(CODE, REGISTERS_PROGRAM);
            Vcpu vcpu = startVcpu(m, CODE, c -> c);
            VcpuExit exit = m.run(vcpu);
            assertThat(exit).isInstanceOf(VcpuExit.IoIn.class);
            assertThat(((VcpuExit.IoIn) exit).port()).isEqualTo(0x3f8);
            ((VcpuExit.IoIn) exit).respond(0x77);

            List<StateRecord> saved = vcpu.saveState();
            List<StateRecord> chipSaved = chip.saveState();

            X86Vcpu before = vcpu.as(X86Vcpu.class);
            assertThat(before.getRegs().rax() & 0xff).as("the read completed before the save").isEqualTo(0x77);
            Vm second = m.vmOverSameRam();
            IrqChip chip2 = m.createX86IrqChip(second, false);
            Vcpu restored = second.createVcpu(0);
            restored.restoreState(saved);
            chip2.finishSetup();
            chip2.restoreState(chipSaved);

            X86Vcpu after = restored.as(X86Vcpu.class);
            assertThat(after.getRegs()).isEqualTo(before.getRegs());
            assertSameSystemRegisters(after.getSregs(), before.getSregs());
            assertThat(after.getLapic().registers()).isEqualTo(before.getLapic().registers());
            assertThat(after.getMsrs(KERNEL_GS_BASE)).containsExactly(new Msr(KERNEL_GS_BASE, 0x11223344L));
            assertThat(after.getMpState()).isEqualTo(before.getMpState());
            assertThat(m.ram.readByte(0x3000)).isEqualTo((byte) 0x5a);

            assertThat(out80(m.run(restored))).as("exit 2: AL as the completed read left it").isEqualTo(0x77);
            assertThat(out80(m.run(restored))).as("exit 3: XMM1").isEqualTo(0x11223344L);
            assertThat(out80(m.run(restored))).as("exit 4: KERNEL_GS_BASE").isEqualTo(0x11223344L);
            assertThat(out80(m.run(restored))).as("exit 5: RBX").isEqualTo(0x55667788L);
        }
    }

    private static void assertSameSystemRegisters(X86Sregs after, X86Sregs before) {
        assertThat(List.of(after.cs(), after.ds(), after.es(), after.fs(), after.gs(), after.ss(), after.tr(), after.ldt()))
                .isEqualTo(List.of(before.cs(), before.ds(), before.es(), before.fs(), before.gs(), before.ss(),
                        before.tr(), before.ldt()));
        assertThat(List.of(after.gdt(), after.idt())).isEqualTo(List.of(before.gdt(), before.idt()));
        assertThat(new long[] {after.cr0(), after.cr2(), after.cr3(), after.cr4(), after.cr8(), after.efer(), after.apicBase()})
                .isEqualTo(new long[] {before.cr0(), before.cr2(), before.cr3(), before.cr4(), before.cr8(), before.efer(),
                    before.apicBase()});
    }

    @Test
    void aCpuidFeatureTheHostLacksIsRefusedNamingTheLeafAndNothingIsSet() {
        try (TestMachine m = new TestMachine(backend)) {
            m.createX86IrqChip(false);
            X86Vcpu probe = m.vm.createVcpu(1).as(X86Vcpu.class);
            int hostLeaf7Ebx = probe.supportedCpuid().stream().filter(e -> e.function() == 7 && e.index() == 0)
                    .mapToInt(CpuidEntry::ebx).findFirst().orElse(0);
            int lacking = Integer.lowestOneBit(~hostLeaf7Ebx);
            assumeTrue(lacking != 0, "the host offers every bit of leaf 7.0 EBX");
            Vcpu vcpu = startVcpu(m, CODE, cpuid -> cpuid.stream()
                    .map(e -> e.function() == 7 && e.index() == 0 ? e.withEbx(e.ebx() | lacking) : e).toList());
            List<StateRecord> saved = vcpu.saveState();

            Vm second = m.vmOverSameRam();
            m.createX86IrqChip(second, false);
            X86Vcpu fresh = second.createVcpu(0).as(X86Vcpu.class);
            X86Regs regs = fresh.getRegs();
            X86Sregs sregs = fresh.getSregs();

            assertThatThrownBy(() -> ((Vcpu) fresh).restoreState(saved))
                    .isInstanceOf(StateException.class)
                    .hasMessageContaining("leaf 0x7.0 EBX bit " + Integer.numberOfTrailingZeros(lacking) + " ");
            assertThat(fresh.getRegs()).as("nothing set").isEqualTo(regs);
            assertSameSystemRegisters(fresh.getSregs(), sregs);
        }
    }

    /**
     * Runs {@link #REGISTERS_PROGRAM} on a machine with its interrupt controller to its read of port 0x3f8, answers
     * 0x77, and saves the vCPU.
     */
    private static List<StateRecord> savedAtTheConsoleRead(TestMachine m) throws Exception {
        m.createX86IrqChip(false);
        m.load(CODE, REGISTERS_PROGRAM);
        Vcpu vcpu = startVcpu(m, CODE, c -> c);
        ((VcpuExit.IoIn) m.run(vcpu)).respond(0x77);
        return vcpu.saveState();
    }

    @Test
    void everyRecordTruncatedIsRefusedNamingItAndNothingIsSet() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            List<StateRecord> saved = savedAtTheConsoleRead(m);

            Vm second = m.vmOverSameRam();
            m.createX86IrqChip(second, false);
            Vcpu fresh = second.createVcpu(0);
            X86Regs regs = fresh.as(X86Vcpu.class).getRegs();

            for (StateRecord r : saved) {
                List<StateRecord> damaged = new ArrayList<>(saved);
                damaged.replaceAll(x -> x == r ? new StateRecord(r.id(), r.version(),
                        Arrays.copyOf(r.data(), r.data().length - 1)) : x);
                assertThatThrownBy(() -> fresh.restoreState(damaged)).as(r.id())
                        .isInstanceOf(StateException.class).hasMessageStartingWith(r.id() + ":");
            }
            List<StateRecord> missing = new ArrayList<>(saved.subList(1, saved.size()));
            assertThatThrownBy(() -> fresh.restoreState(missing)).isInstanceOf(StateException.class)
                    .hasMessageStartingWith(saved.getFirst().id() + ":");
            assertThat(fresh.as(X86Vcpu.class).getRegs()).as("nothing set").isEqualTo(regs);
        }
    }

    /** The KVM backend's record of the vCPU's TSC frequency: a little-endian u32 of kHz. */
    private static final String KVM_TSC_KHZ = "kvm-x86-tsc-khz";

    private static int tscKhz(List<StateRecord> records) {
        StateRecord r = StateRecord.find(records, KVM_TSC_KHZ, 1);
        assertThat(r.data()).hasSize(4);
        return java.nio.ByteBuffer.wrap(r.data()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
    }

    private static List<StateRecord> withTscKhz(List<StateRecord> records, int khz) {
        byte[] b = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(khz).array();
        List<StateRecord> out = new ArrayList<>(records);
        out.replaceAll(r -> r.id().equals(KVM_TSC_KHZ) ? new StateRecord(KVM_TSC_KHZ, r.version(), b) : r);
        return out;
    }

    /**
     * KVM saves the vCPU's TSC frequency; a restore at the same rate keeps it, and a restore of a guest whose TSC ran
     * at half this host's rate either gets that rate (where KVM scales the TSC) or is refused naming both rates,
     * before anything is set. A guest that calibrated its clock at one rate must not silently run at another.
     */
    @Test
    void theTscFrequencyIsSavedAndAnotherRateIsGivenOrRefusedNamingBoth(TestReporter report) throws Exception {
        backend.notApplicableOn(KitBackend.MSHV, "the record it reads is the KVM backend's own (" + KVM_TSC_KHZ + ")");
        try (TestMachine m = new TestMachine(backend)) {
            List<StateRecord> saved = savedAtTheConsoleRead(m);
            int khz = tscKhz(saved);
            assertThat(khz).as("the saved TSC frequency").isPositive();

            Vm second = m.vmOverSameRam();
            m.createX86IrqChip(second, false);
            Vcpu same = second.createVcpu(0);
            same.restoreState(saved);
            assertThat(tscKhz(same.saveState())).as("restored at the rate it was saved at").isEqualTo(khz);

            int half = khz / 2;
            Vm third = m.vmOverSameRam();
            m.createX86IrqChip(third, false);
            Vcpu fresh = third.createVcpu(0);
            X86Regs regs = fresh.as(X86Vcpu.class).getRegs();
            assertThatThrownBy(() -> fresh.restoreState(withTscKhz(saved, 0))).isInstanceOf(StateException.class)
                    .hasMessageStartingWith(KVM_TSC_KHZ + ": 0 kHz");
            boolean taken;
            try {
                fresh.restoreState(withTscKhz(saved, half));
                taken = true;
            } catch (StateException e) {
                assertThat(e).hasMessageStartingWith(KVM_TSC_KHZ + ":")
                        .hasMessageContaining(half + " kHz").hasMessageContaining(khz + " kHz");
                assertThat(fresh.as(X86Vcpu.class).getRegs()).as("nothing set").isEqualTo(regs);
                taken = false;
            }
            report.publishEntry("tsc-khz", khz + " kHz saved; " + half + " kHz " + (taken ? "given (KVM scales the TSC)" : "refused"));
            if (taken) {
                assertThat(tscKhz(fresh.saveState())).as("the rate KVM took").isEqualTo(half);
                assertThat(out80(m.run(fresh))).as("the restored guest runs on").isEqualTo(0x77);
            }
        }
    }

    /**
     * Programs the master PIC's mask (port 0x21), IOAPIC redirection entry 1 (IOREGSEL/IOWIN at 0xfec00000, reached
     * with DS based there) and PIT channel 0 (mode 2), reports at port 0x80 (exit 1, saved there); then reads each
     * back: the mask, the entry's low half, the channel's status byte (read-back command).
     */
    private static final byte[] CONTROLLERS_PROGRAM = b(
            0xb0, 0xa5,                                  // mov al, 0xa5
            0xe6, 0x21,                                  // out 0x21, al              master PIC IMR
            0x66, 0xc7, 0x06, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, // mov dword [0x00], 0x12  IOREGSEL: entry 1 low
            0x66, 0xc7, 0x06, 0x10, 0x00, 0x31, 0x00, 0x01, 0x00, // mov dword [0x10], 0x10031  IOWIN: masked, 0x31
            0xb0, 0x34,                                  // mov al, 0x34
            0xe6, 0x43,                                  // out 0x43, al              PIT ch 0: lo/hi, mode 2, binary
            0xb0, 0x00, 0xe6, 0x40,                      // out 0x40, 0x00
            0xb0, 0x10, 0xe6, 0x40,                      // out 0x40, 0x10            count 0x1000
            0xb0, 0x01,                                  // mov al, 1
            0xe6, 0x80,                                  // out 0x80, al              exit 1: saved here
            0xe4, 0x21,                                  // in al, 0x21
            0xe6, 0x80,                                  // out 0x80, al              exit 2: the PIC mask
            0x66, 0xc7, 0x06, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, // mov dword [0x00], 0x12
            0x66, 0xa1, 0x10, 0x00,                      // mov eax, [0x10]
            0x66, 0xe7, 0x80,                            // out 0x80, eax             exit 3: the IOAPIC entry
            0xb0, 0xe2,                                  // mov al, 0xe2
            0xe6, 0x43,                                  // out 0x43, al              read-back: status of ch 0
            0xe4, 0x40,                                  // in al, 0x40
            0xe6, 0x80,                                  // out 0x80, al              exit 4: the PIT status
            0xf4);                                       // hlt

    @Test
    void theInKernelPicIoapicAndPitAreRestoredIntoANewVm() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            assumeTrue(m.capabilities().contains(Capability.IN_KERNEL_IOAPIC), "the hypervisor has an in-kernel IOAPIC");
            IrqChip chip = m.createX86IrqChip(true);
            m.load(CODE, CONTROLLERS_PROGRAM);
            Vcpu vcpu = startVcpu(m, CODE, c -> c);
            X86Vcpu cpu = vcpu.as(X86Vcpu.class);
            X86Sregs s = cpu.getSregs();
            X86Segment d = s.ds();
            X86Segment ds = new X86Segment(IOAPIC_BASE, d.limit(), d.selector(), d.type(), d.present(), d.dpl(), d.db(),
                    d.s(), d.l(), d.g(), d.avl(), d.unusable());
            cpu.setSregs(new X86Sregs(s.cs(), ds, s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(),
                    s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap()));
            assertThat(out80(m.run(vcpu))).isEqualTo(1);

            List<StateRecord> saved = vcpu.saveState();
            List<StateRecord> chipSaved = chip.saveState();
            Vm second = m.vmOverSameRam();
            IrqChip chip2 = m.createX86IrqChip(second, true);
            Vcpu restored = second.createVcpu(0);
            restored.restoreState(saved);
            chip2.finishSetup();
            chip2.restoreState(chipSaved);

            assertThat(out80(m.run(restored))).as("exit 2: master PIC mask").isEqualTo(0xa5);
            assertThat(out80(m.run(restored))).as("exit 3: IOAPIC entry 1, low").isEqualTo(0x10031);
            assertThat(out80(m.run(restored)) & 0x3f).as("exit 4: PIT channel 0 access and mode").isEqualTo(0x34);
        }
    }
}
