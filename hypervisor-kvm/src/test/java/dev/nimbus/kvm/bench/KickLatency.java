package dev.nimbus.kvm.bench;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;
import dev.nimbus.kvm.KvmHypervisor;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * How long {@link Vcpu#kick()} takes to bring a vCPU that is running guest code out of {@code KVM_RUN}:
 * the time from the kick on one thread to {@code run()} returning {@code Interrupted} on the vCPU's thread.
 * The guest spins in a one-instruction loop, so the vCPU is inside the guest when the kick comes. Needs
 * /dev/kvm; a measurement printed for docs/performance.md, not a test.
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -cp ... dev.nimbus.kvm.bench.KickLatency [ROUNDS]
 * </pre>
 */
public final class KickLatency {
    private KickLatency() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        KvmHypervisor kvm = new KvmHypervisor();
        try (Vm vm = kvm.createVm(VmOptions.defaults());
             GuestMemory ram = GuestMemory.allocate(List.of(new AddressRange(0, 0x10000)))) {
            vm.setMemoryRegion(MemoryRegion.ram(0, ram.regions().getFirst()));
            Vcpu vcpu = vm.createVcpu(0);
            SynchronousQueue<Long> returned = new SynchronousQueue<>();
            SynchronousQueue<Boolean> go = new SynchronousQueue<>();
            Thread t = new Thread(() -> {
                try {
                    start(vcpu, ram);
                    go.put(true);
                    while (go.take()) {
                        VcpuExit exit = vcpu.run();
                        long at = System.nanoTime();
                        if (!(exit instanceof VcpuExit.Interrupted)) {
                            throw new IllegalStateException("unexpected exit " + exit);
                        }
                        returned.put(at);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "vcpu0");
            t.start();
            go.take();
            long[] ns = new long[rounds];
            for (int i = 0; i < rounds; i++) {
                go.put(true);
                TimeUnit.MILLISECONDS.sleep(20);  // let the vCPU enter the guest and spin
                long kicked = System.nanoTime();
                vcpu.kick();
                ns[i] = returned.take() - kicked;
            }
            go.put(false);
            t.join();
            Arrays.sort(ns);
            System.out.printf("KickLatency: %s, %d rounds: min %.1f us, median %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us%n",
                    Arch.host().id(), rounds, ns[0] / 1e3, ns[rounds / 2] / 1e3, ns[rounds * 9 / 10] / 1e3,
                    ns[Math.min(rounds - 1, rounds * 99 / 100)] / 1e3, ns[rounds - 1] / 1e3);
        }
    }

    /** Points vCPU 0 at a one-instruction loop at 0x1000. */
    private static void start(Vcpu vcpu, GuestMemory ram) {
        try {
            switch (Arch.host()) {
                case X86_64 -> {
                    ram.write(0x1000, new byte[] {(byte) 0xeb, (byte) 0xfe});              // jmp $
                    X86Vcpu x = vcpu.as(X86Vcpu.class);
                    X86Sregs s = x.getSregs();
                    X86Segment c = s.cs();
                    X86Segment cs = new X86Segment(0, c.limit(), 0, c.type(), c.present(), c.dpl(), c.db(), c.s(),
                            c.l(), c.g(), c.avl(), c.unusable());
                    x.setSregs(new X86Sregs(cs, s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(),
                            s.idt(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(),
                            s.interruptBitmap()));
                    x.setRegs(X86Regs.reset().withRip(0x1000));
                }
                case AARCH64 -> {
                    ram.write(0x1000, new byte[] {0x00, 0x00, 0x00, 0x14});                // b .
                    Aarch64Vcpu a = vcpu.as(Aarch64Vcpu.class);
                    a.init(false);
                    a.setOneReg(0x6030000000100040L, 0x1000);                              // PC
                }
                case RISCV64 -> {
                    ram.write(0x1000, new byte[] {0x6f, 0x00, 0x00, 0x00});                // j .
                    vcpu.as(Riscv64Vcpu.class).setOneReg(0x8030000002000000L, 0x1000);     // PC
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
