package dev.nimbus.kvm;

import dev.nimbus.hypervisor.KernelSpeed;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.hypervisor.x86.X86DescriptorTable;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Measures whether a KVM host runs x86-64 guest kernel code at hardware speed: one vCPU in 64-bit mode runs
 * the loop {@code inc rax; jmp back} for a fixed slice of time at CPL 0 and again at CPL 3, is kicked out
 * of the guest, and RAX says how many iterations it made. The same code, the same page tables, only the
 * privilege level differs; the two rates go into a {@link KernelSpeed}, whose ratio decides.
 *
 * <p>Cost: one VM with 64 KiB of memory and one vCPU, a short warm-up and a {@value #SLICE_MS} ms slice per
 * level, about 30 ms on hardware KVM. {@link KvmHypervisor} measures once per process and device.
 *
 * <p>Guest layout (identity-mapped by one 2 MiB user-accessible page):
 * 0x1000 PML4, 0x2000 PDPT, 0x3000 PD, 0x4000 GDT (null, kernel code 0x08, kernel data 0x10, user data
 * 0x18, user code 0x20, TSS 0x28), 0x5000 TSS, 0x8000 the loop.
 */
final class KernelSpeedProbe {
    static final int SLICE_MS = 10;
    private static final int WARM_UP_MS = 2;
    private static final int MAX_SLICE_MS = 200;

    private static final long PML4 = 0x1000;
    private static final long PDPT = 0x2000;
    private static final long PD = 0x3000;
    private static final long GDT = 0x4000;
    private static final long TSS = 0x5000;
    private static final long LOOP = 0x8000;
    private static final long MEMORY_SIZE = 0x10000;

    private static final byte[] LOOP_CODE = {
            0x48, (byte) 0xff, (byte) 0xc0,              // inc rax
            (byte) 0xeb, (byte) 0xfb,                    // jmp -5 (back to inc)
    };

    private KernelSpeedProbe() {}

    /** What the host names as the cause of emulated kernel code: the {@code kvm_pvm} module and its mode. */
    static Optional<String> knownCause(Path sysModule) {
        Path pvm = sysModule.resolve("kvm_pvm");
        if (!Files.isDirectory(pvm)) {
            return Optional.empty();
        }
        String mode = "";
        try {
            String nativeMode = Files.readString(pvm.resolve("parameters/pvm_native")).strip();
            mode = " (pvm_native=" + nativeMode + ")";
        } catch (IOException | RuntimeException e) {
            // the module is there; its parameter is not readable: name the module alone
        }
        return Optional.of("kernel module kvm_pvm" + mode);
    }

    /**
     * Runs the measurement on a fresh VM from {@code vms}; {@code cause} is what the host names, if anything.
     *
     * @throws IllegalStateException when the tiny guest does not run as it should (an exit other than the
     *         kick), with what happened
     */
    static KernelSpeed measure(Supplier<Vm> vms, Optional<String> cause) throws InterruptedException {
        try (Vm vm = vms.get();
             GuestMemory ram = GuestMemory.allocate(List.of(new AddressRange(0, MEMORY_SIZE)))) {
            vm.setMemoryRegion(MemoryRegion.ram(0, ram.regions().getFirst()));
            writeTables(ram);
            Vcpu vcpu = vm.createVcpu(0);
            try (Runner runner = new Runner(vcpu)) {
                double kernel = runner.rate(0);
                double user = runner.rate(3);
                return new KernelSpeed(kernel, user, cause);
            }
        }
    }

    private static void writeTables(GuestMemory ram) {
        try {
            ram.writeLong(PML4, PDPT | 0x7);                         // present, writable, user
            ram.writeLong(PDPT, PD | 0x7);
            ram.writeLong(PD, 0x87);                                 // 2 MiB page at 0: present, writable, user, PS
            ram.writeLong(GDT + 0x08, 0x00af9b000000ffffL);          // kernel code, 64-bit, DPL 0
            ram.writeLong(GDT + 0x10, 0x00cf93000000ffffL);          // kernel data, DPL 0
            ram.writeLong(GDT + 0x18, 0x00cff3000000ffffL);          // user data, DPL 3
            ram.writeLong(GDT + 0x20, 0x00affb000000ffffL);          // user code, 64-bit, DPL 3
            ram.writeLong(GDT + 0x28, 0x00008b0000000067L | ((TSS & 0xffffff) << 16)); // busy 64-bit TSS
            ram.write(LOOP, LOOP_CODE);
        } catch (dev.nimbus.hypervisor.memory.GuestMemoryException e) {
            throw new IllegalStateException("probe memory: " + e.getMessage(), e);
        }
    }

    /** The system registers for 64-bit mode at the given privilege level. */
    static X86Sregs longMode(X86Sregs reset, int cpl) {
        int codeSel = cpl == 0 ? 0x08 : 0x23;
        int dataSel = cpl == 0 ? 0x10 : 0x1b;
        X86Segment code = new X86Segment(0, 0xffffffff, codeSel, 0xb, true, cpl, false, true, true, true, false, false);
        X86Segment data = new X86Segment(0, 0xffffffff, dataSel, 0x3, true, cpl, true, true, false, true, false, false);
        X86Segment tr = new X86Segment(TSS, 0x67, 0x28, 0xb, true, 0, false, false, false, false, false, false);
        return new X86Sregs(code, data, data, data, data, data, tr, reset.ldt(),
                new X86DescriptorTable(GDT, 0x2f), new X86DescriptorTable(0, 0),
                0x80050033L,                                         // PE MP ET NE WP AM PG
                0, PML4,
                0x20,                                                // PAE
                0,
                0x500,                                               // EFER.LME | EFER.LMA
                reset.apicBase(), reset.interruptBitmap());
    }

    /**
     * The vCPU's own thread (a vCPU belongs to one thread) and the kicks that end each slice. The caller
     * hands a slice over, sleeps for it and kicks; the vCPU thread reports iterations and nanoseconds.
     */
    private static final class Runner implements AutoCloseable {
        private record Slice(int cpl, boolean reset) {}
        private record Result(long iterations, long nanos, VcpuExit exit, RuntimeException error) {}

        private final Vcpu vcpu;
        private final SynchronousQueue<Slice> slices = new SynchronousQueue<>();
        private final SynchronousQueue<Result> results = new SynchronousQueue<>();
        private final Thread thread;
        private final X86Sregs reset;

        Runner(Vcpu vcpu) {
            this.vcpu = vcpu;
            this.reset = vcpu.as(X86Vcpu.class).getSregs();
            this.thread = Thread.ofPlatform().daemon().name("kvm-speed-probe").unstarted(this::serve);
            thread.start();
        }

        private void serve() {
            X86Vcpu x = vcpu.as(X86Vcpu.class);
            try {
                while (true) {
                    Slice s = slices.take();
                    if (s.cpl() < 0) {
                        return;
                    }
                    Result r;
                    try {
                        if (s.reset()) {
                            x.setSregs(longMode(reset, s.cpl()));
                        }
                        // RAX counts from 0 in every slice: nothing carries over from the one before
                        x.setRegs(X86Regs.reset().withRip(LOOP).withRsp(0x7000));
                        long t0 = System.nanoTime();
                        VcpuExit exit = vcpu.run();
                        long t1 = System.nanoTime();
                        r = new Result(x.getRegs().rax(), t1 - t0, exit, null);
                    } catch (RuntimeException e) {
                        r = new Result(0, 0, null, e);
                    }
                    results.put(r);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private Result slice(int cpl, boolean reset, int ms) throws InterruptedException {
            slices.put(new Slice(cpl, reset));
            TimeUnit.MILLISECONDS.sleep(ms);
            vcpu.kick();
            Result r = results.take();
            if (r.error() != null) {
                throw new IllegalStateException("CPL " + cpl + ": " + r.error().getMessage(), r.error());
            }
            if (!(r.exit() instanceof VcpuExit.Interrupted)) {
                throw new IllegalStateException("CPL " + cpl + ": the loop left the guest with " + r.exit()
                        + " instead of being kicked");
            }
            return r;
        }

        /** Loop iterations per second at {@code cpl}: a warm-up slice (page tables, first entry), then the measured one. */
        double rate(int cpl) throws InterruptedException {
            slice(cpl, true, WARM_UP_MS);
            for (int ms = SLICE_MS; ; ms *= 4) {
                Result r = slice(cpl, false, ms);
                if (r.iterations() > 0 && r.nanos() > 0) {
                    return r.iterations() * 1e9 / r.nanos();
                }
                if (ms * 4 > MAX_SLICE_MS) {
                    throw new IllegalStateException("CPL " + cpl + ": the loop made no progress in " + ms + " ms");
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            slices.put(new Slice(-1, false));
            thread.join();
        }
    }
}
