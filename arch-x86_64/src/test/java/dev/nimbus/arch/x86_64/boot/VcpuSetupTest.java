package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.arch.x86_64.FakeX86Vcpu;
import dev.nimbus.arch.x86_64.Machines;
import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.arch.x86_64.cpuid.SyntheticCpuid;
import dev.nimbus.hypervisor.MpState;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.x86.Msr;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The start state each boot protocol leaves a vCPU in, recorded by a fake vCPU and checked against the
 * architecture: descriptors decoded back from the GDT in guest memory, the page tables walked as the MMU
 * would, control register and EFER bits by their SDM names.
 */
class VcpuSetupTest {
    @TempDir
    Path dir;
    MachineDescription machine = Machines.machine(64 * X86Layout.MIB, 4);
    GuestMemory memory = Machines.memory(machine);

    @AfterEach
    void release() {
        memory.close();
    }

    private BootPlan bzImage() throws Exception {
        Path kernel = dir.resolve("vmlinuz");
        Files.write(kernel, SyntheticKernels.bzImage());
        return Machines.PLATFORM.loadKernel(memory, new BootImages(kernel, Optional.empty(), ""), machine);
    }

    private BootPlan pvh() throws Exception {
        Path kernel = dir.resolve("vmlinux");
        Files.write(kernel, SyntheticKernels.elf());
        return Machines.PLATFORM.loadKernel(memory, new BootImages(kernel, Optional.empty(), ""), machine);
    }

    private static FakeX86Vcpu vcpu(int id) {
        return new FakeX86Vcpu(id, SyntheticCpuid.intel());
    }

    /** A descriptor as the SDM's figure 3-8 lays it out, decoded independently of the code under test. */
    record Descriptor(long base, long limit, int type, boolean s, int dpl, boolean p, boolean avl, boolean l, boolean db, boolean g) {
        static Descriptor of(long d) {
            long base = ((d >>> 16) & 0xffffff) | (((d >>> 56) & 0xff) << 24);
            long limit = (d & 0xffff) | (((d >>> 48) & 0xf) << 16);
            return new Descriptor(base, limit, (int) (d >>> 40) & 0xf, ((d >>> 44) & 1) == 1, (int) (d >>> 45) & 3,
                    ((d >>> 47) & 1) == 1, ((d >>> 52) & 1) == 1, ((d >>> 53) & 1) == 1, ((d >>> 54) & 1) == 1, ((d >>> 55) & 1) == 1);
        }

        /** Whether a segment register's hidden part is what loading this descriptor with {@code selector} gives. */
        boolean loadedAs(X86Segment seg, int selector) {
            long expandedLimit = g ? (limit << 12) | 0xfff : limit;
            return seg.selector() == selector && seg.base() == base && (seg.limit() & 0xffffffffL) == expandedLimit
                    && seg.type() == type && seg.s() == s && seg.dpl() == dpl && seg.present() == p && seg.l() == l
                    && seg.db() == db && seg.g() == g && !seg.unusable();
        }
    }

    private long gdtEntry(X86Sregs sregs, int selector) throws Exception {
        assertThat(selector + 7).isLessThanOrEqualTo(sregs.gdt().limit());
        return memory.readLong(sregs.gdt().base() + selector);
    }

    /** The 4-level walk of SDM 4.5 for a 4 KiB, 2 MiB or 1 GiB page; -1 when a level is not present. */
    private long translate(long cr3, long va) throws Exception {
        long mask = 0x000f_ffff_ffff_f000L;
        long pml4e = memory.readLong((cr3 & mask) + ((va >>> 39) & 0x1ff) * 8);
        if ((pml4e & 1) == 0) {
            return -1;
        }
        long pdpte = memory.readLong((pml4e & mask) + ((va >>> 30) & 0x1ff) * 8);
        if ((pdpte & 1) == 0) {
            return -1;
        }
        if ((pdpte & 0x80) != 0) {
            return (pdpte & 0x000f_ffff_c000_0000L) | (va & 0x3fff_ffffL);
        }
        long pde = memory.readLong((pdpte & mask) + ((va >>> 21) & 0x1ff) * 8);
        if ((pde & 1) == 0) {
            return -1;
        }
        if ((pde & 0x80) != 0) {
            return (pde & 0x000f_ffff_ffe0_0000L) | (va & 0x1f_ffffL);
        }
        long pte = memory.readLong((pde & mask) + ((va >>> 12) & 0x1ff) * 8);
        return (pte & 1) == 0 ? -1 : (pte & mask) | (va & 0xfff);
    }

    @Test
    void bootVcpuEntersStartup64WithTheZeroPageInRsi() throws Exception {
        BootPlan plan = bzImage();
        FakeX86Vcpu v = vcpu(0);
        plan.setupVcpu(v, 0);
        assertThat(v.regs.rip()).isEqualTo(SyntheticKernels.PREF_ADDRESS + 0x200);
        assertThat(v.regs.rsi()).isEqualTo(X86Layout.ZERO_PAGE);
        assertThat(v.regs.rsp()).isEqualTo(X86Layout.BOOT_STACK_POINTER);
        assertThat(v.regs.rflags()).isEqualTo(0x2); // reserved bit 1 only: IF clear
        assertThat(v.mpState).isEqualTo(MpState.RUNNABLE);
    }

    @Test
    void longModeIsOnWithPagingAndPae() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        X86Sregs s = v.sregs;
        assertThat(s.cr0() & 1).as("CR0.PE").isEqualTo(1);
        assertThat(s.cr0() >>> 31 & 1).as("CR0.PG").isEqualTo(1);
        assertThat(s.cr0() & (3L << 29)).as("CR0.CD and NW (caches on)").isZero();
        assertThat(s.cr4() >>> 5 & 1).as("CR4.PAE").isEqualTo(1);
        assertThat(s.efer() >>> 8 & 1).as("EFER.LME").isEqualTo(1);
        assertThat(s.efer() >>> 10 & 1).as("EFER.LMA").isEqualTo(1);
        assertThat(s.cr3()).isEqualTo(X86Layout.PML4);
        assertThat(s.apicBase()).as("APIC base kept").isEqualTo(0xfee00900L);
    }

    @Test
    void gdtInGuestMemoryHoldsFlat64BitCodeAndDataAtTheBootSelectors() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        assertThat(v.sregs.gdt().base()).isEqualTo(X86Layout.GDT);
        assertThat(gdtEntry(v.sregs, 0x10)).isEqualTo(0x00af9b000000ffffL); // 64-bit code, DPL 0
        assertThat(gdtEntry(v.sregs, 0x18)).isEqualTo(0x00cf93000000ffffL); // 4 GiB data
        assertThat(gdtEntry(v.sregs, 0)).isZero();
    }

    @Test
    void segmentRegistersHoldWhatTheirGdtDescriptorsSay() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        X86Sregs s = v.sregs;
        Descriptor code = Descriptor.of(gdtEntry(s, 0x10));
        Descriptor data = Descriptor.of(gdtEntry(s, 0x18));
        Descriptor tss = Descriptor.of(gdtEntry(s, 0x20));
        assertThat(code.l()).isTrue();
        assertThat(code.loadedAs(s.cs(), 0x10)).as("CS").isTrue();
        for (X86Segment seg : new X86Segment[] {s.ds(), s.es(), s.fs(), s.gs(), s.ss()}) {
            assertThat(data.loadedAs(seg, 0x18)).as("data segment %s", seg).isTrue();
        }
        assertThat(tss.type()).as("busy TSS").isEqualTo(11);
        assertThat(tss.loadedAs(s.tr(), 0x20)).as("TR").isTrue();
        assertThat(memory.readLong(X86Layout.GDT + 0x28)).as("upper half of the 16-byte TSS descriptor").isZero();
        assertThat(s.ldt().unusable()).isTrue();
    }

    @Test
    void pageTablesIdentityMapTheFirstFourGiB() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        BootPlan plan = bzImage();
        plan.setupVcpu(v, 0);
        long[] addresses = {0, X86Layout.ZERO_PAGE, X86Layout.CMDLINE, plan.entryPoint(), 0x3fff_ffffL, 0x4000_0000L,
                0x8765_4321L, X86Layout.LAPIC_ADDRESS, 0xffff_ffffL};
        for (long a : addresses) {
            assertThat(translate(v.sregs.cr3(), a)).as("0x%x", a).isEqualTo(a);
        }
        assertThat(translate(v.sregs.cr3(), 0x1_0000_0000L)).as("4 GiB is not mapped").isEqualTo(-1);
        // every 2 MiB page of the 4 GiB
        for (long a = 0; a < 4 * X86Layout.GIB; a += 2 * X86Layout.MIB) {
            assertThat(translate(v.sregs.cr3(), a + 0x1234)).isEqualTo(a + 0x1234);
        }
    }

    @Test
    void fpuIsResetAndBootMsrsAreSet() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        assertThat(v.fpu.fcw()).isEqualTo(0x37f);
        assertThat(v.fpu.mxcsr()).isEqualTo(0x1f80);
        assertThat(v.msrs).contains(new Msr(0x1a0, 1), new Msr(0x2ff, 0x806), new Msr(0x10, 0), new Msr(0xc0000082, 0),
                new Msr(0x174, 0));
    }

    @Test
    void localApicDeliversExtIntOnLint0AndNmiOnLint1() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        assertThat(v.lapic.register(0x350) >>> 8 & 7).as("LINT0 delivery mode").isEqualTo(7);
        assertThat(v.lapic.register(0x360) >>> 8 & 7).as("LINT1 delivery mode").isEqualTo(4);
        assertThat(v.lapic.register(0x350) & 0x10000).as("mask left as the hypervisor reset it").isEqualTo(0x10000);
        assertThat(v.lapic.register(0x20)).as("APIC id untouched").isZero();
    }

    @Test
    void secondaryVcpuWaitsForSipiWithItsOwnCpuidAndLapic() throws Exception {
        BootPlan plan = bzImage();
        FakeX86Vcpu v = vcpu(2);
        plan.setupVcpu(v, 2);
        assertThat(v.mpState).isEqualTo(MpState.UNINITIALIZED);
        assertThat(v.calls).doesNotContain("setRegs", "setSregs");
        assertThat(v.cpuid).anySatisfy(e -> {
            assertThat(e.function()).isEqualTo(1);
            assertThat(e.ebx() >>> 24).as("initial APIC id").isEqualTo(2);
        });
        assertThat(v.lapic.register(0x350) >>> 8 & 7).isEqualTo(7);
        assertThat(v.lapic.register(0x360) >>> 8 & 7).isEqualTo(4);
    }

    @Test
    void cpuidIsSetBeforeMsrsAndRegistersBeforeTheVcpuIsMadeRunnable() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        assertThat(v.calls.indexOf("setCpuid")).isZero();
        assertThat(v.calls.indexOf("setMsrs")).isPositive();
        assertThat(v.calls.getLast()).isEqualTo("setMpState");
    }

    @Test
    void vcpuIndexOutsideTheMachineIsRefused() throws Exception {
        BootPlan plan = bzImage();
        assertThatThrownBy(() -> plan.setupVcpu(vcpu(4), 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("vCPU index 4 outside this machine's 4 vCPUs");
    }

    @Test
    void pvhEntersThirtyTwoBitProtectedModeWithStartInfoInEbx() throws Exception {
        BootPlan plan = pvh();
        FakeX86Vcpu v = vcpu(0);
        plan.setupVcpu(v, 0);
        X86Sregs s = v.sregs;
        assertThat(v.regs.rip()).isEqualTo(SyntheticKernels.ELF_ENTRY);
        assertThat(v.regs.rbx()).isEqualTo(X86Layout.PVH_START_INFO);
        assertThat(s.cr0() & 1).as("CR0.PE").isEqualTo(1);
        assertThat(s.cr0() >>> 31).as("CR0.PG").isZero();
        assertThat(s.cr4()).isZero();
        assertThat(s.efer()).isZero();
        assertThat(gdtEntry(s, 0x10)).isEqualTo(0x00cf9b000000ffffL); // 32-bit code
        Descriptor code = Descriptor.of(gdtEntry(s, 0x10));
        assertThat(code.loadedAs(s.cs(), 0x10)).isTrue();
        assertThat(s.cs().db()).isTrue();
        assertThat(s.cs().l()).isFalse();
        assertThat(Descriptor.of(gdtEntry(s, 0x18)).loadedAs(s.ss(), 0x18)).isTrue();
        assertThat(Descriptor.of(gdtEntry(s, 0x20)).loadedAs(s.tr(), 0x20)).isTrue();
    }

    @Test
    void idtIsEmpty() throws Exception {
        FakeX86Vcpu v = vcpu(0);
        bzImage().setupVcpu(v, 0);
        assertThat(v.sregs.idt().base()).isEqualTo(X86Layout.IDT);
        byte[] idt = new byte[v.sregs.idt().limit() + 1];
        memory.read(X86Layout.IDT, idt);
        assertThat(ByteBuffer.wrap(idt).order(ByteOrder.LITTLE_ENDIAN).getLong()).isZero();
    }
}
