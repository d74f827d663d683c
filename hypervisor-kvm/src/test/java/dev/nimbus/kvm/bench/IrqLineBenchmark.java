package dev.nimbus.kvm.bench;

import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.kvm.fd.FakeIoctl;
import dev.nimbus.kvm.irq.X86LegacyIrqChip;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.concurrent.TimeUnit;

import static dev.nimbus.kvm.abi.KvmStructs.IRQ_LEVEL_LEVEL;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The Java side of one legacy interrupt, without KVM: what a device's {@code IrqChipLine.set(level)} calls,
 * {@link IrqChip#setIrqLine} on the x86 in-kernel irqchip, down to {@code KvmVmFd.irqLine} filling the
 * {@code kvm_irq_level} of {@code KVM_IRQ_LINE} in the thread's scratch and making the ioctl, here a
 * {@link FakeIoctl} that reads the struct back instead of entering the kernel (a real {@code KVM_IRQ_LINE}
 * costs a system call and the kernel's irqchip update on top). Run with the GC profiler to see the
 * allocation per call ({@code gc.alloc.rate.norm}, expected 0 B/op):
 * <pre>
 *   java -cp ... dev.nimbus.kvm.bench.IrqLineBenchmark
 * </pre>
 * Results: docs/performance.md.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class IrqLineBenchmark {
    private FakeIoctl kernel;
    private IrqChip chip;
    private boolean level;

    @Setup(Level.Trial)
    public void create() {
        kernel = new FakeIoctl();
        chip = X86LegacyIrqChip.create(new IrqChipConfig.X86Legacy(0xfffb_d000L, 0xfffb_c000L, true), kernel.vm());
    }

    /** COM1's line (GSI 4), toggled as a 16550 raises and lowers it: the level the "kernel" read. */
    @Benchmark
    public int setLine() {
        level = !level;
        chip.setIrqLine(4, level);
        return kernel.lastArg().get(JAVA_INT, IRQ_LEVEL_LEVEL);
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(IrqLineBenchmark.class.getSimpleName())
                .addProfiler("gc").build()).run();
    }
}
