package dev.nimbus.kvm.exit;

import dev.nimbus.hypervisor.VcpuExit;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

import static dev.nimbus.kvm.abi.KvmConstants.*;
import static dev.nimbus.kvm.abi.KvmStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;

/** The PIO and MMIO exit paths allocate nothing per exit (the JVM's per-thread allocation counter). */
class ExitAllocationTest {
    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private static long handle(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.IoOut out -> out.port() + out.value();
            case VcpuExit.IoIn in -> {
                in.respond(0x12);
                yield in.port();
            }
            case VcpuExit.MmioWrite w -> w.address() + w.value();
            case VcpuExit.MmioRead r -> {
                r.respond(0x34);
                yield r.address();
            }
            default -> throw new AssertionError("unexpected " + exit);
        };
    }

    @Test
    void decodingAndAnsweringIoExitsAllocatesNothing() {
        MemorySegment run = Arena.ofAuto().allocate(3 * 4096, 4096);
        KvmExitDecoder decoder = new KvmExitDecoder(run);
        long sink = 0;
        for (int round = 0; round < 2; round++) {  // round 0 warms up (class loading, first-call paths)
            long before = allocatedByThisThread();
            for (int i = 0; i < 100_000; i++) {
                // the io and mmio members share the exit union: fill the one this exit uses, as KVM does
                if ((i & 1) == 0) {
                    run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_IO);
                    run.set(JAVA_BYTE, RUN_IO_DIRECTION, (byte) ((i >> 1) & 1));
                    run.set(JAVA_BYTE, RUN_IO_SIZE, (byte) 1);
                    run.set(JAVA_SHORT, RUN_IO_PORT, (short) 0x3f8);
                    run.set(JAVA_INT, RUN_IO_COUNT, 1);
                    run.set(JAVA_LONG, RUN_IO_DATA_OFFSET, 4096);
                } else {
                    run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_MMIO);
                    run.set(JAVA_LONG, RUN_MMIO_PHYS_ADDR, 0xd000_0000L);
                    run.set(JAVA_INT, RUN_MMIO_LEN, 4);
                    run.set(JAVA_BYTE, RUN_MMIO_IS_WRITE, (byte) ((i >> 1) & 1));
                }
                sink += handle(decoder.decode());
            }
            long allocated = allocatedByThisThread() - before;
            if (round == 1) {
                assertThat(allocated).as("bytes allocated by 100000 exits").isLessThan(1024);
            }
        }
        assertThat(sink).isNotZero();
    }
}
