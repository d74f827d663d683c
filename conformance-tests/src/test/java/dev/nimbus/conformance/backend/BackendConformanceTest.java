package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Capability;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.host.EventFd;
import dev.nimbus.hypervisor.x86.X86Vcpu;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.nimbus.conformance.backend.GuestCode.Layout.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backend conformance kit: what every hypervisor backend must do, checked through the SPI alone with
 * small guest programs ({@link GuestCode}) on the host's architecture. Every test runs once per backend
 * ({@link ConformanceKit}: {@code kvm}, in the L1 guest of each architecture, and {@code mshv}, wherever
 * {@code /dev/mshv} is usable); what a backend lacks is asked of its capabilities, and a test that cannot apply
 * to a backend says why.
 */
@ConformanceKit
class BackendConformanceTest {
    private final KitBackend backend;

    BackendConformanceTest(KitBackend backend) {
        this.backend = backend;
    }

    private static boolean x86() {
        return Arch.host() == Arch.X86_64;
    }

    private static <T> T as(VcpuExit exit, Class<T> type) {
        assertThat(exit).isInstanceOf(type);
        return type.cast(exit);
    }

    @Test
    void vcpuRunsCodeFromAMemoryRegionAndStops() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.stop());
            Vcpu vcpu = m.vcpu(0, CODE);

            VcpuExit exit = m.run(vcpu);

            assertThat(m.code.isStop(exit)).as("stop exit, got %s", exit).isTrue();
        }
    }

    @Test
    void haltExitsAsHaltWithoutAnInKernelIrqchip() throws Exception {
        assumeTrue(x86(), "HLT exits to user space only on x86-64 (WFI waits in the hypervisor)");
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.stop());

            assertThat(m.run(m.vcpu(0, CODE))).isSameAs(VcpuExit.HALT);
        }
    }

    @Test
    void pioExitsCarryPortSizeAndDataBothWays() throws Exception {
        assumeTrue(x86(), "port I/O exists on x86-64 only");
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, ((X86GuestCode) m.code).pioRoundTrip());
            Vcpu vcpu = m.vcpu(0, CODE);

            VcpuExit.IoOut out1 = as(m.run(vcpu), VcpuExit.IoOut.class);
            assertThat(out1.port()).isEqualTo(0x3f8);
            assertThat(out1.size()).isEqualTo(1);
            assertThat(out1.value()).isEqualTo(0x41);

            VcpuExit.IoOut out4 = as(m.run(vcpu), VcpuExit.IoOut.class);
            assertThat(out4.size()).isEqualTo(4);
            assertThat(out4.value()).isEqualTo(0x12345678L);

            VcpuExit.IoIn in = as(m.run(vcpu), VcpuExit.IoIn.class);
            assertThat(in.port()).isEqualTo(0x3f8);
            assertThat(in.size()).isEqualTo(1);
            in.respond(0x5a);

            VcpuExit.IoOut echo = as(m.run(vcpu), VcpuExit.IoOut.class);
            assertThat(echo.port()).isEqualTo(0x80);
            assertThat(echo.value()).isEqualTo(0x5a);
            assertThat(m.run(vcpu)).isSameAs(VcpuExit.HALT);
        }
    }

    @Test
    void mmioExitsCarryAddressSizeAndDataBothWays() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.mmioRoundTrip());
            Vcpu vcpu = m.vcpu(0, CODE);

            VcpuExit.MmioWrite w = as(m.run(vcpu), VcpuExit.MmioWrite.class);
            assertThat(w.address()).isEqualTo(MMIO + 0x10);
            assertThat(w.size()).isEqualTo(2);
            assertThat(w.value()).isEqualTo(0xabcd);

            VcpuExit.MmioRead r = as(m.run(vcpu), VcpuExit.MmioRead.class);
            assertThat(r.address()).isEqualTo(MMIO + 0x20);
            assertThat(r.size()).isEqualTo(4);
            r.respond(0xcafef00dL);

            VcpuExit.MmioWrite echo = as(m.run(vcpu), VcpuExit.MmioWrite.class);
            assertThat(echo.address()).isEqualTo(MMIO + 0x30);
            assertThat(echo.size()).isEqualTo(4);
            assertThat(echo.value()).isEqualTo(0xcafef00dL);
            assertThat(m.code.isStop(m.run(vcpu))).isTrue();
        }
    }

    @Test
    void writeToReadOnlyMemoryExitsAsMmioAndLeavesItUnchanged() throws Exception {
        assumeTrue(backend.hypervisor().capabilities().contains(Capability.READONLY_MEMORY));
        try (TestMachine m = new TestMachine(backend, true, false)) {
            m.rom.writeByte(ROM, (byte) 0x11);
            m.load(CODE, m.code.readOnlyWrite());
            Vcpu vcpu = m.vcpu(0, CODE);

            VcpuExit.MmioWrite copied = as(m.run(vcpu), VcpuExit.MmioWrite.class);
            assertThat(copied.address()).isEqualTo(MMIO + 0x40);
            assertThat(copied.value()).as("the byte read from read-only memory").isEqualTo(0x11);

            VcpuExit.MmioWrite refused = as(m.run(vcpu), VcpuExit.MmioWrite.class);
            assertThat(refused.address()).isEqualTo(ROM + 4);
            assertThat(refused.size()).isEqualTo(1);
            assertThat(refused.value()).isEqualTo(0x77);
            assertThat(m.code.isStop(m.run(vcpu))).isTrue();
            assertThat(m.rom.readByte(ROM + 4)).isZero();
        }
    }

    @Test
    void dirtyLogReportsExactlyThePagesTheGuestWrote() throws Exception {
        // MSHV: dirty logging is not built in that backend (it offers no DIRTY_LOG); every KVM has it
        assumeTrue(backend.hypervisor().capabilities().contains(Capability.DIRTY_LOG),
                () -> backend + " offers no dirty-page log (Capability.DIRTY_LOG)");
        try (TestMachine m = new TestMachine(backend, false, true)) {
            m.load(CODE, m.code.dirtyTwoPages());
            Vcpu vcpu = m.vcpu(0, CODE);
            assertThat(m.vm.dirtyLog(2)).isEqualTo(new BitSet());

            assertThat(m.code.isStop(m.run(vcpu))).isTrue();

            BitSet expected = new BitSet();
            expected.set(2);
            expected.set(5);
            assertThat(m.vm.dirtyLog(2)).isEqualTo(expected);
            assertThat(m.vm.dirtyLog(2)).as("the log was reset by the previous read").isEqualTo(new BitSet());
            assertThat(m.logged.readByte(LOGGED + 0x2000)).isEqualTo((byte) 1);
        }
    }

    @Test
    void ioeventfdWithDatamatchSignalsOnlyForItsValueInsteadOfExiting() throws Exception {
        try (TestMachine m = new TestMachine(backend); EventFd doorbell = EventFd.createNonBlocking()) {
            m.vm.registerIoeventfd(doorbell, IoEventAddress.mmio(MMIO + 0x50, 4), OptionalLong.of(7));
            m.load(CODE, m.code.twoWrites());
            Vcpu vcpu = m.vcpu(0, CODE);

            VcpuExit.MmioWrite w = as(m.run(vcpu), VcpuExit.MmioWrite.class);

            assertThat(w.value()).as("the write of 7 signalled the eventfd; 8 exits").isEqualTo(8);
            assertThat(doorbell.read()).isEqualTo(1);
            assertThat(m.code.isStop(m.run(vcpu))).isTrue();
            m.vm.unregisterIoeventfd(doorbell, IoEventAddress.mmio(MMIO + 0x50, 4), OptionalLong.of(7));
        }
    }

    @Test
    void pioIoeventfdFiresInsteadOfAnExit() throws Exception {
        assumeTrue(x86(), "port I/O exists on x86-64 only");
        try (TestMachine m = new TestMachine(backend); EventFd doorbell = EventFd.createNonBlocking()) {
            m.vm.registerIoeventfd(doorbell, IoEventAddress.pio(0x500, 1), OptionalLong.empty());
            m.load(CODE, ((X86GuestCode) m.code).pioDoorbell());

            assertThat(m.run(m.vcpu(0, CODE))).isSameAs(VcpuExit.HALT);
            assertThat(doorbell.read()).isEqualTo(1);
        }
    }

    @Test
    void irqfdDeliversAnMsiThatTheX86GuestHandles() throws Exception {
        assumeTrue(x86(), "an MSI to the local APIC is x86-64's; AArch64 and riscv64 have their own irqfd tests");
        try (TestMachine m = new TestMachine(backend); EventFd irq = EventFd.create()) {
            X86GuestCode x = (X86GuestCode) m.code;
            m.createX86IrqChip(true);  // the MSI goes to the local APIC: the split irqchip serves as well (MSHV)
            m.load(0x40 * 4, x.ivtEntry());
            m.load(0x200, x.interruptHandler());
            m.load(CODE, x.waitForInterrupt());
            Vcpu vcpu = m.vcpu(0, CODE);
            X86Vcpu cpu = vcpu.as(X86Vcpu.class);
            cpu.setLapic(cpu.getLapic().withRegister(0xf0, 0x1ff));  // spurious vector register: APIC enabled
            // GSI 5 sends MSI vector 0x40 to APIC 0
            m.vm.setGsiRouting(List.of(new GsiRoute.Msi(5, MsiMessage.of(0xfee0_0000L, 0x40))));
            m.vm.registerIrqfd(irq, 5);

            irq.signal();
            VcpuExit.IoOut out = as(m.run(vcpu), VcpuExit.IoOut.class);

            assertThat(out.port()).isEqualTo(0x80);
            assertThat(out.value()).as("written by the vector 0x40 handler").isEqualTo(0x99);
            m.vm.unregisterIrqfd(irq, 5);
        }
    }

    @Test
    void irqfdRaisesAGicV3InterruptTheGuestAcknowledges() throws Exception {
        assumeTrue(Arch.host() == Arch.AARCH64, "GICv3 is AArch64's interrupt controller");
        try (TestMachine m = new TestMachine(backend); EventFd irq = EventFd.create()) {
            Aarch64GuestCode a = (Aarch64GuestCode) m.code;
            IrqChip gic = m.vm.createIrqChip(new IrqChipConfig.GicV3(Aarch64GuestCode.GICD, Aarch64GuestCode.GICR,
                    OptionalLong.empty(), 64));
            m.load(CODE, a.gicInterruptWait());
            m.load(Aarch64GuestCode.VECTORS + 0x280, a.gicIrqHandler());
            Vcpu vcpu = m.vcpu(0, CODE);
            gic.finishSetup();
            m.vm.registerIrqfd(irq, 5);  // GSI 5 is SPI 5, INTID 37

            irq.signal();
            VcpuExit.MmioWrite w = as(m.run(vcpu), VcpuExit.MmioWrite.class);

            assertThat(w.address()).isEqualTo(MMIO + 0x70);
            assertThat(w.value()).as("the INTID the guest acknowledged").isEqualTo(37);
            m.vm.unregisterIrqfd(irq, 5);
        }
    }

    @Test
    void gicV3WithAnItsTakesMsiRoutesThatNameTheirDeviceAfterItsLineRoutes() throws Exception {
        assumeTrue(Arch.host() == Arch.AARCH64, "the ITS is AArch64's MSI controller");
        try (TestMachine m = new TestMachine(backend); EventFd msi = EventFd.create()) {
            IrqChip gic = m.vm.createIrqChip(new IrqChipConfig.GicV3(Aarch64GuestCode.GICD, Aarch64GuestCode.GICR,
                    OptionalLong.of(Aarch64GuestCode.ITS), 64));
            m.load(CODE, m.code.stop());
            m.vcpu(0, CODE);
            gic.finishSetup();

            assertThat(gic.msiNeedsDeviceId()).as("an ITS translates by device id").isTrue();
            List<GsiRoute> lines = gic.lineRoutes();
            assertThat(lines).hasSize(64).contains(new GsiRoute.IrqchipPin(5, 0, 5));
            // GITS_TRANSLATER is at offset 0x10040 of the ITS frame; requester ID 00:01.0 is 0x08
            List<GsiRoute> table = new java.util.ArrayList<>(lines);
            table.add(new GsiRoute.Msi(64, new MsiMessage(Aarch64GuestCode.ITS + 0x1_0040, 0, 0x08)));
            m.vm.setGsiRouting(table);
            m.vm.registerIrqfd(msi, 64);
            m.vm.unregisterIrqfd(msi, 64);
        }
    }

    @Test
    void gicV3WithoutAnItsNeedsNoDeviceId() throws Exception {
        assumeTrue(Arch.host() == Arch.AARCH64, "GICv3 is AArch64's interrupt controller");
        try (TestMachine m = new TestMachine(backend)) {
            IrqChip gic = m.vm.createIrqChip(new IrqChipConfig.GicV3(Aarch64GuestCode.GICD, Aarch64GuestCode.GICR,
                    OptionalLong.empty(), 64));
            assertThat(gic.msiNeedsDeviceId()).isFalse();
            assertThat(gic.lineRoutes()).hasSize(64);
        }
    }

    @Test
    void irqfdRaisesAnAiaInterruptTheGuestClaims() throws Exception {
        assumeTrue(Arch.host() == Arch.RISCV64, "the AIA is riscv64's interrupt controller");
        try (TestMachine m = new TestMachine(backend); EventFd irq = EventFd.create()) {
            Riscv64GuestCode r = (Riscv64GuestCode) m.code;
            IrqChip aia = m.vm.createIrqChip(new IrqChipConfig.Aia(Riscv64GuestCode.APLIC, Riscv64GuestCode.IMSIC, 32, 63));
            m.load(CODE, r.aiaInterruptWait());
            Vcpu vcpu = m.vcpu(0, CODE);
            aia.finishSetup();
            m.vm.setGsiRouting(List.of(new GsiRoute.IrqchipPin(5, 0, 5)));  // GSI 5 drives APLIC source 5
            m.vm.registerIrqfd(irq, 5);
            // the APLIC forwards an edge only while its domain and the source are enabled: raise it once
            // the guest says it has set them up
            VcpuExit.MmioWrite ready = as(m.run(vcpu), VcpuExit.MmioWrite.class);
            assertThat(ready.address()).isEqualTo(MMIO + 0x78);

            irq.signal();
            VcpuExit.MmioWrite w = as(m.run(vcpu), VcpuExit.MmioWrite.class);

            assertThat(w.address()).isEqualTo(MMIO + 0x70);
            assertThat(w.value()).as("the interrupt identity the guest claimed").isEqualTo(5);
            m.vm.unregisterIrqfd(irq, 5);
        }
    }

    @Test
    void twoVcpusRunAtTheSameTime() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.waitForFlag());
            m.load(CODE2, m.code.setFlag());
            Vcpu waiter = m.vcpu(0, CODE);
            Vcpu setter = m.vcpu(1, CODE2);
            CountDownLatch both = new CountDownLatch(2);
            // each vCPU on its own thread; the waiter only leaves its loop if the setter runs meanwhile
            CompletableFuture<Long> waited = CompletableFuture.supplyAsync(() -> {
                both.countDown();
                return as(m.run(waiter), VcpuExit.MmioWrite.class).value();
            }, r -> new Thread(r, "vcpu0").start());
            CompletableFuture<Long> set = CompletableFuture.supplyAsync(() -> {
                both.countDown();
                return as(m.run(setter), VcpuExit.MmioWrite.class).value();
            }, r -> new Thread(r, "vcpu1").start());

            assertThat(set.get(TestMachine.HANG_GUARD_SECONDS + 60, TimeUnit.SECONDS)).isEqualTo(0xa1);
            assertThat(waited.get(TestMachine.HANG_GUARD_SECONDS + 60, TimeUnit.SECONDS)).isEqualTo(0xa0);
        }
    }

    @Test
    void kickStopsAVcpuThatIsRunningGuestCode() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.spin());
            Vcpu vcpu = m.vcpu(0, CODE);
            CompletableFuture<VcpuExit> exit = CompletableFuture.supplyAsync(vcpu::run,
                    r -> new Thread(r, "vcpu0").start());

            // kick until it answers: the first kick may come before the thread has entered the guest,
            // which it then must not even start running
            VcpuExit result = null;
            while (result == null) {
                vcpu.kick();
                try {
                    result = exit.get(1, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException notYet) {
                    // kick again
                }
            }
            assertThat(result).isSameAs(VcpuExit.INTERRUPTED);
        }
    }

    @Test
    void kickBeforeRunMakesTheNextRunReturnInterrupted() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.spin());
            Vcpu vcpu = m.vcpu(0, CODE);

            vcpu.kick();

            assertThat(vcpu.run()).isSameAs(VcpuExit.INTERRUPTED);
        }
    }

    @Test
    void kickDoesNotLoseTheResponseToTheExitBeingHandled() throws Exception {
        try (TestMachine m = new TestMachine(backend)) {
            m.load(CODE, m.code.mmioRoundTrip());
            Vcpu vcpu = m.vcpu(0, CODE);
            as(m.run(vcpu), VcpuExit.MmioWrite.class);
            VcpuExit.MmioRead read = as(m.run(vcpu), VcpuExit.MmioRead.class);
            read.respond(0x600dcafeL);

            vcpu.kick();
            assertThat(m.run(vcpu)).isSameAs(VcpuExit.INTERRUPTED);

            VcpuExit.MmioWrite echo = as(m.run(vcpu), VcpuExit.MmioWrite.class);
            assertThat(echo.value()).as("the value answered before the kick").isEqualTo(0x600dcafeL);
        }
    }

    @Test
    void closingTheVmReleasesEveryFileDescriptor() throws Exception {
        // warm up: the JVM opens a few descriptors once (the backend's classes, the C library's)
        try (TestMachine warm = new TestMachine(backend)) {
            warm.vcpu(0, CODE).kick();
        }
        long before = openFds();
        // the dirty-logged slot where the backend logs dirty pages (every KVM; not MSHV)
        boolean logged = backend.hypervisor().capabilities().contains(Capability.DIRTY_LOG);
        try (TestMachine m = new TestMachine(backend, true, logged); EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            switch (Arch.host()) {
                case X86_64 -> m.createX86IrqChip(true);
                case AARCH64 -> m.vm.createIrqChip(new IrqChipConfig.GicV3(Aarch64GuestCode.GICD,
                        Aarch64GuestCode.GICR, OptionalLong.of(Aarch64GuestCode.ITS), 64));
                case RISCV64 -> m.vm.createIrqChip(new IrqChipConfig.Aia(Riscv64GuestCode.APLIC,
                        Riscv64GuestCode.IMSIC, 32, 63));
            }
            m.load(CODE, m.code.twoWrites());
            Vcpu first = m.vcpu(0, CODE);
            m.vcpu(1, CODE2);
            m.vm.irqChip().ifPresent(chip -> chip.finishSetup());
            m.vm.registerIoeventfd(a, IoEventAddress.mmio(MMIO + 0x50, 4), OptionalLong.of(7));
            if (m.vm.irqChip().isPresent()) {
                m.vm.registerIrqfd(b, 5);
            }
            as(m.run(first), VcpuExit.MmioWrite.class);
            assertThat(openFds()).isGreaterThan(before);
        }
        assertThat(openFds()).isEqualTo(before);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
