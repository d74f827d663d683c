package dev.nimbus.devices.bus;

import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.serial.Serial16550;
import dev.nimbus.hypervisor.VcpuExit;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The exit path allocates nothing per access: measured with the JVM's per-thread allocation counter over
 * many accesses (a handful of bytes in total would be the counter's own noise; one object per access would
 * be megabytes).
 */
class BusAllocationTest {
    static final int ACCESSES = 200_000;

    static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** One reused {@code in} exit, as a backend presents it. */
    static final class ReusedIoIn implements VcpuExit.IoIn {
        int port;
        long answer;

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
        public void respond(int index, long value) {
            answer = value;
        }
    }

    @Test
    void portReadExitsThroughTheBusAllocateNothing() {
        Buses buses = new Buses();
        buses.pio().insert(0x3f8, 8, new Serial16550(IrqLine.NONE, OutputStream.nullOutputStream()));
        for (int i = 0; i < 16; i++) {
            buses.pio().insert(0x1000 + i * 0x10L, 8, new Serial16550(IrqLine.NONE, OutputStream.nullOutputStream()));
        }
        ReusedIoIn exit = new ReusedIoIn();
        exit.port = 0x3fd; // LSR
        long sum = 0;
        for (int i = 0; i < ACCESSES; i++) { // warm up
            buses.handle(exit);
            sum += exit.answer;
        }

        long before = allocatedBytes();
        for (int i = 0; i < ACCESSES; i++) {
            buses.handle(exit);
            sum += exit.answer;
        }
        long allocated = allocatedBytes() - before;

        assertThat(sum).isEqualTo(2L * ACCESSES * 0x60);
        assertThat(allocated).isLessThan(4096);
    }

    @Test
    void unmappedReadsAfterTheFirstFewAllocateNothing() {
        Bus bus = new Bus(AddressSpace.PIO);
        for (int i = 0; i < ACCESSES; i++) {
            bus.read(0x2f8 + (i & 31), 1);
        }

        long before = allocatedBytes();
        long sum = 0;
        for (int i = 0; i < ACCESSES; i++) {
            sum += bus.read(0x2f8 + (i & 31), 1);
        }
        long allocated = allocatedBytes() - before;

        assertThat(sum).isEqualTo(0xffL * ACCESSES);
        assertThat(allocated).isLessThan(4096);
    }
}
