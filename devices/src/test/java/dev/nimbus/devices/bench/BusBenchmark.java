package dev.nimbus.devices.bench;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.platform.PlatformDeviceFactory;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The device side of a port-I/O exit: {@link Buses#handle} on the PC's platform devices, as the vCPU loop
 * calls it. Run with {@code -prof gc} to see the allocation per access (it should be 0 B/op).
 *
 * <pre>
 * java -cp "$(cat cp.txt):devices/target/test-classes:devices/target/classes" org.openjdk.jmh.Main BusBenchmark -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BusBenchmark {
    /** One reused exit, as a backend's view over its exit page. */
    static final class Exit implements VcpuExit.IoIn, VcpuExit.IoOut {
        int port;
        long value;

        @Override
        public int port() {
            return port;
        }

        @Override
        public int size() {
            return 1;
        }

        @Override
        public int count() {
            return 1;
        }

        @Override
        public long value(int index) {
            return value;
        }

        @Override
        public void respond(int index, long value) {
            this.value = value;
        }
    }

    Buses buses;
    final Exit lsrRead = new Exit();
    final Exit thrWrite = new Exit();
    final Exit unmappedRead = new Exit();

    @Setup
    public void setUp() {
        MachineLayout layout = new MachineLayout(List.of(new AddressRange(0, 1L << 30)),
                new AddressRange(0xc000_0000L, 0x3000_0000L), new AddressRange(1L << 36, 1L << 30),
                new AddressRange(0xe000_0000L, 0x1000_0000L), List.of());
        PlatformDeviceFactory factory = new PlatformDeviceFactory(PlatformDeviceFactory.Environment.onHostClocks(
                gsi -> IrqLine.NONE, OutputStream.nullOutputStream(), PowerControl.IGNORE, layout));
        buses = new Buses();
        factory.createAll(List.of(
                new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.UART_16550_PIO, 0x3f8, 4),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.CMOS, 0x70, 8),
                new PlatformDevice.I8042(0x60, 1),
                new PlatformDevice.DebugPort(0x80),
                new PlatformDevice.AcpiPowerControl(0x600)), buses);
        lsrRead.port = 0x3fd;
        thrWrite.port = 0x3f8;
        thrWrite.value = 'x';
        unmappedRead.port = 0x2f8;
    }

    /** The serial console's poll: read LSR. */
    @Benchmark
    public long serialLsrRead() {
        buses.handle((VcpuExit.IoIn) lsrRead);
        return lsrRead.value;
    }

    /** One byte of console output, to a sink that drops it. */
    @Benchmark
    public void serialThrWrite() {
        buses.handle((VcpuExit.IoOut) thrWrite);
    }

    /** A probe of a port nothing answers (COM2). */
    @Benchmark
    public long unmappedPortRead() {
        buses.handle((VcpuExit.IoIn) unmappedRead);
        return unmappedRead.value;
    }
}
