package dev.nimbus.kvm.bench;

import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.kvm.exit.KvmExitDecoder;
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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static dev.nimbus.kvm.abi.KvmConstants.*;
import static dev.nimbus.kvm.abi.KvmStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Java side of one vCPU exit, without KVM: a kvm_run page filled in memory as KVM leaves it after a
 * PIO or MMIO exit, decoded and dispatched the way the VMM's run loop does (an exhaustive switch over the
 * sealed {@link VcpuExit}), the device's answer written back. Run with the GC profiler to see the
 * allocation per exit ({@code gc.alloc.rate.norm}, expected 0 B/op):
 * <pre>
 *   java -cp ... dev.nimbus.kvm.bench.ExitDecodeBenchmark
 * </pre>
 * Results: docs/performance.md.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ExitDecodeBenchmark {
    private MemorySegment pioOut;
    private MemorySegment mmioRead;
    private KvmExitDecoder pioOutDecoder;
    private KvmExitDecoder mmioReadDecoder;

    @Setup(Level.Trial)
    public void fill() {
        Arena arena = Arena.ofAuto();
        pioOut = arena.allocate(3 * 4096, 4096);
        pioOut.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_IO);
        pioOut.set(JAVA_BYTE, RUN_IO_DIRECTION, (byte) KVM_EXIT_IO_OUT);
        pioOut.set(JAVA_BYTE, RUN_IO_SIZE, (byte) 1);
        pioOut.set(JAVA_SHORT, RUN_IO_PORT, (short) 0x3f8);
        pioOut.set(JAVA_INT, RUN_IO_COUNT, 1);
        pioOut.set(JAVA_LONG, RUN_IO_DATA_OFFSET, 4096);
        pioOut.set(JAVA_BYTE, 4096, (byte) 'x');
        pioOutDecoder = new KvmExitDecoder(pioOut);

        mmioRead = arena.allocate(3 * 4096, 4096);
        mmioRead.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_MMIO);
        mmioRead.set(JAVA_LONG, RUN_MMIO_PHYS_ADDR, 0xd000_0010L);
        mmioRead.set(JAVA_INT, RUN_MMIO_LEN, 4);
        mmioRead.set(JAVA_BYTE, RUN_MMIO_IS_WRITE, (byte) 0);
        mmioReadDecoder = new KvmExitDecoder(mmioRead);
    }

    /** What a VMM run loop does with an exit: an exhaustive switch, a bus access, the answer. */
    private long dispatch(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.IoOut out -> out.port() + out.value();
            case VcpuExit.IoIn in -> {
                in.respond(0xff);
                yield in.port();
            }
            case VcpuExit.MmioWrite w -> w.address() + w.value();
            case VcpuExit.MmioRead r -> {
                r.respond(r.address() & 0xffff);
                yield r.address();
            }
            case VcpuExit.Halt h -> 1;
            case VcpuExit.Shutdown s -> 2;
            case VcpuExit.SystemEvent e -> 3;
            case VcpuExit.InternalError e -> 4;
            case VcpuExit.Unknown u -> 5;
            case VcpuExit.Interrupted i -> 6;
            case VcpuExit.IoapicEoi e -> e.vector();
            case VcpuExit.SbiCall c -> {
                c.respond(VcpuExit.SbiCall.ERR_NOT_SUPPORTED, 0);
                yield c.extension();
            }
        };
    }

    @Benchmark
    public long pioOutExit() {
        return dispatch(pioOutDecoder.decode());
    }

    @Benchmark
    public long mmioReadExit() {
        return dispatch(mmioReadDecoder.decode());
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(ExitDecodeBenchmark.class.getSimpleName())
                .addProfiler("gc").build()).run();
    }
}
