package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86Fpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;
import dev.nimbus.hypervisor.x86.X86Vm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.nimbus.conformance.backend.GuestCode.Layout.CODE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The x86-64 vCPU and VM state the arch-x86_64 platform programs, through the SPI (X86Vcpu, X86Vm), once per
 * backend ({@link ConformanceKit}).
 */
@ConformanceKit
class X86VcpuConformanceTest {
    private static final int IA32_SYSENTER_CS = 0x174;
    private static final int NO_SUCH_MSR = 0x4b564d99;

    private final KitBackend backend;

    X86VcpuConformanceTest(KitBackend backend) {
        this.backend = backend;
    }

    @BeforeEach
    void onlyOnX86() {
        assumeTrue(Arch.host() == Arch.X86_64, "x86-64 state");
    }

    @Test
    void generalRegistersAreReadBackAsWritten() {
        try (TestMachine m = new TestMachine(backend)) {
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);
            X86Regs regs = new X86Regs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1234, 0x2);

            cpu.setRegs(regs);

            assertThat(cpu.getRegs()).isEqualTo(regs);
        }
    }

    @Test
    void systemRegistersAreReadBackAsWritten() {
        try (TestMachine m = new TestMachine(backend)) {
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);
            X86Sregs s = cpu.getSregs();
            X86Sregs changed = new X86Sregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                    new dev.nimbus.hypervisor.x86.X86DescriptorTable(0x5000, 0x27), s.idt(),
                    s.cr0(), 0xabc000, 0x9000, s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap());

            cpu.setSregs(changed);

            X86Sregs back = cpu.getSregs();
            assertThat(back.gdt()).isEqualTo(changed.gdt());
            assertThat(back.cr2()).isEqualTo(0xabc000);
            assertThat(back.cr3()).isEqualTo(0x9000);
            assertThat(back.cs()).isEqualTo(s.cs());
        }
    }

    @Test
    void fpuStateIsReadBackAsWritten() {
        try (TestMachine m = new TestMachine(backend)) {
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);
            byte[] xmm = new byte[256];
            xmm[16] = 0x5a;  // xmm1, lowest byte
            X86Fpu fpu = new X86Fpu(new byte[128], 0x37f, 0, 0, 0, 0, 0, xmm, 0x1f80);

            cpu.setFpu(fpu);

            X86Fpu back = cpu.getFpu();
            assertThat(back.fcw()).isEqualTo(0x37f);
            assertThat(back.xmm()[16]).isEqualTo((byte) 0x5a);
            // MXCSR is not compared: on the L1 guest's kernel (6.1) KVM_GET_FPU reports 0 for it whatever
            // KVM_SET_FPU was given; it travels with KVM_GET/SET_XSAVE instead.
        }
    }

    @Test
    void msrsAreReadBackAndUnknownOnesAreLeftOut() {
        try (TestMachine m = new TestMachine(backend)) {
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);

            cpu.setMsrs(List.of(new Msr(IA32_SYSENTER_CS, 0x10)));

            assertThat(cpu.getMsrs(NO_SUCH_MSR, IA32_SYSENTER_CS)).containsExactly(new Msr(IA32_SYSENTER_CS, 0x10));
        }
    }

    @Test
    void refusedMsrWriteNamesTheMsr() {
        try (TestMachine m = new TestMachine(backend)) {
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);

            assertThatThrownBy(() -> cpu.setMsrs(List.of(new Msr(NO_SUCH_MSR, 1))))
                    .isInstanceOf(HypervisorException.class)
                    .hasMessageContaining(Integer.toHexString(NO_SUCH_MSR));
        }
    }

    @Test
    void guestSeesTheCpuidItWasGiven() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, new byte[] {
                0x66, 0x31, (byte) 0xc0,                  // xor eax, eax
                0x0f, (byte) 0xa2,                        // cpuid            leaf 0: vendor in ebx, edx, ecx
                0x66, (byte) 0x89, (byte) 0xd8,           // mov eax, ebx
                (byte) 0xba, (byte) 0x80, 0x00,           // mov dx, 0x80
                0x66, (byte) 0xef,                        // out dx, eax
                (byte) 0xf4});                            // hlt
            Vcpu vcpu = m.vcpu(0, CODE);
            X86Vcpu cpu = vcpu.as(X86Vcpu.class);
            List<CpuidEntry> cpuid = new ArrayList<>();
            for (CpuidEntry e : cpu.supportedCpuid()) {
                cpuid.add(e.function() == 0 ? e.withEbx(0x4e494d42) : e);  // "BMIN"
            }
            assertThat(cpuid).anyMatch(e -> e.function() == 0);

            cpu.setCpuid(cpuid);
            VcpuExit exit = m.run(vcpu);

            assertThat(exit).isInstanceOf(VcpuExit.IoOut.class);
            assertThat(((VcpuExit.IoOut) exit).value()).isEqualTo(0x4e494d42L);
        }
    }

    @Test
    void bootstrapVcpuIsRunnableAndItsLapicTaskPriorityIsReadBack() {
        try (TestMachine m = new TestMachine(backend)) {
            m.createX86IrqChip(false);  // the in-kernel irqchip without the PIT where there is one; else the split one (MSHV)
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);

            assertThat(cpu.getMpState()).isEqualTo(MpState.RUNNABLE);
            cpu.setLapic(cpu.getLapic().withRegister(0x80, 0x20));  // TPR
            assertThat(cpu.getLapic().register(0x80)).isEqualTo(0x20);
        }
    }

    /**
     * The split irqchip ({@code --platform irqchip=split}): the local APIC is the hypervisor's (its state is read
     * and written), a level-triggered MSI route at one of the IOAPIC's reserved GSIs is accepted, a message the
     * VMM's IOAPIC sends lands in the local APIC's IRR, and the chip has no in-kernel lines.
     */
    @Test
    void splitIrqchipKeepsTheLocalApicTakesIoapicRoutesAndDeliversMessages() {
        try (TestMachine m = new TestMachine(backend)) {
            assumeTrue(m.hypervisor.capabilities().contains(dev.nimbus.hypervisor.Capability.SPLIT_IRQCHIP),
                    "the hypervisor offers the split irqchip");
            dev.nimbus.hypervisor.IrqChip chip = m.vm.createIrqChip(
                    new dev.nimbus.hypervisor.IrqChipConfig.X86Split(0xfffb_d000L, 0xfffb_c000L, 24));
            X86Vcpu cpu = m.vm.createVcpu(0).as(X86Vcpu.class);
            chip.finishSetup();

            assertThat(cpu.getMpState()).isEqualTo(MpState.RUNNABLE);
            cpu.setLapic(cpu.getLapic().withRegister(0xf0, 0x1ff)); // SVR: software-enabled, spurious vector 0xff
            assertThat(cpu.getLapic().register(0xf0)).isEqualTo(0x1ff);
            int vector = 0x31;
            dev.nimbus.hypervisor.MsiMessage level = dev.nimbus.hypervisor.MsiMessage.of(0xfee0_0000L, 0xc000 | vector);
            m.vm.setGsiRouting(List.of(new dev.nimbus.hypervisor.GsiRoute.Msi(4, level)));
            chip.signalMsi(level);

            int irr = cpu.getLapic().register(0x200 + 0x10 * (vector / 32));
            assertThat(irr & (1 << (vector % 32))).as("vector 0x%x pending in the local APIC's IRR", vector).isNotZero();
            assertThatThrownBy(() -> chip.setIrqLine(4, true)).isInstanceOf(UnsupportedOperationException.class);
        }
    }

    @Test
    void guestClockIsSetAndKeepsRunningFromThere() {
        backend.notApplicableOn(KitBackend.MSHV, "the clock set and read here is kvmclock, KVM's paravirtual clock "
                + "(KVM_SET_CLOCK/KVM_GET_CLOCK); an MSHV partition has no such clock and its VM is no X86Vm");
        try (TestMachine m = new TestMachine(backend)) {
            X86Vm vm = m.vm.as(X86Vm.class);

            vm.setClock(5_000_000_000L);

            assertThat(vm.getClock()).isGreaterThanOrEqualTo(5_000_000_000L);
        }
    }
}
