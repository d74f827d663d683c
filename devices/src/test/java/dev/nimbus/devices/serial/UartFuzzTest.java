package dev.nimbus.devices.serial;

import dev.nimbus.devices.testing.QuietLogs;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.bus.AddressSpace;
import dev.nimbus.devices.bus.Bus;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.testing.RecordingIrqLine;

import java.io.OutputStream;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz targets for the UARTs' register files: the fuzzer reads and writes any register at any width the bus
 * passes (1, 2, 4 or 8 bytes, wholly inside the device's range) and offers host input, in any order.
 * Invariants: nothing is thrown; the receive FIFO never holds more than its capacity (16 bytes, one with
 * the FIFOs off) and host input never takes more than the room there was; the interrupt line is where the
 * registers say it is (the 16550's IIR "no interrupt" bit, the PL011's masked interrupt status); the
 * 16550's saved state is one it takes back and saves again unchanged.
 */
class UartFuzzTest {
    static final long COM1 = 0x3f8;
    static final long PL011_BASE = 0x0900_0000L;


    @FuzzTest(maxDuration = "30s")
    void the16550KeepsItsFifoAndInterruptLineConsistent(FuzzedDataProvider data) {
        try (QuietLogs quiet = QuietLogs.during()) {
            RecordingIrqLine irq = new RecordingIrqLine();
            Serial16550 uart = new Serial16550(irq, OutputStream.nullOutputStream());
            Bus pio = new Bus(AddressSpace.PIO);
            pio.insert(COM1, 8, uart);
            for (int op = 0; op < 256 && data.remainingBytes() > 0; op++) {
                switch (data.consumeInt(0, 3)) {
                    case 0 -> {
                        int size = 1 << data.consumeInt(0, 3);
                        int offset = data.consumeInt(0, 7) & ~(size - 1) & 7;
                        pio.write(COM1 + offset, Math.min(size, 8 - offset), data.consumeLong());
                    }
                    case 1 -> {
                        int size = 1 << data.consumeInt(0, 3);
                        int offset = data.consumeInt(0, 7) & ~(size - 1) & 7;
                        boolean highBefore = irq.high();
                        long v = pio.read(COM1 + offset, Math.min(size, 8 - offset));
                        if (offset == Serial16550.IIR_FCR && size == 1) {
                            assertThat((v & Serial16550.IIR_NO_INT) == 0).as("IIR 0x%x says an interrupt is pending", v).isEqualTo(highBefore);
                        }
                    }
                    case 2 -> {
                        byte[] input = data.consumeBytes(data.consumeInt(0, 24));
                        int room = uart.rxRoom();
                        int taken = uart.offer(input, 0, input.length);
                        assertThat(taken).as("host input taken").isBetween(0, Math.min(room, input.length));
                    }
                    default -> {
                        DeviceState saved = uart.saveState();
                        Serial16550 copy = new Serial16550(new RecordingIrqLine(), OutputStream.nullOutputStream());
                        copy.restoreState(saved);
                        assertThat(copy.saveState()).as("state saved, restored and saved again").isEqualTo(saved);
                        assertThat(copy.interruptAsserted()).as("the restored interrupt line").isEqualTo(uart.interruptAsserted());
                    }
                }
                byte[] state = uart.saveState().data();
                boolean fifo = (state[8] & 1) != 0;
                assertThat(state[10] & 0xff).as("bytes in the receive FIFO").isLessThanOrEqualTo(fifo ? Serial16550.FIFO_SIZE : 1);
                assertThat(uart.rxRoom()).as("receive room").isBetween(0, Serial16550.FIFO_SIZE);
                assertThat(irq.high()).as("the interrupt line against the device's output").isEqualTo(uart.interruptAsserted());
            }
        }
    }

    @FuzzTest(maxDuration = "30s")
    void thePl011KeepsItsFifoAndInterruptLineConsistent(FuzzedDataProvider data) {
        try (QuietLogs quiet = QuietLogs.during()) {
            RecordingIrqLine irq = new RecordingIrqLine();
            Pl011 uart = new Pl011(irq, OutputStream.nullOutputStream());
            Bus mmio = new Bus(AddressSpace.MMIO);
            mmio.insert(PL011_BASE, Pl011.SIZE, uart);
            for (int op = 0; op < 256 && data.remainingBytes() > 0; op++) {
                int size = 1 << data.consumeInt(0, 3);
                // mostly the registers that do something, sometimes anywhere in the 4 KiB
                int offset = (data.consumeBoolean() ? data.consumeInt(0, 0x4c) : data.consumeInt(0, Pl011.SIZE - 1)) & ~(size - 1);
                switch (data.consumeInt(0, 2)) {
                    case 0 -> mmio.write(PL011_BASE + offset, size, data.consumeLong());
                    case 1 -> mmio.read(PL011_BASE + offset, size);
                    default -> {
                        byte[] input = data.consumeBytes(data.consumeInt(0, 24));
                        int room = uart.rxRoom();
                        assertThat(uart.offer(input, 0, input.length)).as("host input taken").isBetween(0, Math.min(room, input.length));
                    }
                }
                int room = uart.rxRoom();
                assertThat(room).as("receive room").isBetween(0, Pl011.FIFO_SIZE);
                long flags = uart.read(Pl011.FR, 4);
                boolean loopback = (uart.read(Pl011.CR, 4) & Pl011.CR_LBE) != 0;
                if ((flags & Pl011.FR_RXFF) != 0) {
                    assertThat(flags & Pl011.FR_RXFE).as("FR says full and empty: 0x%x", flags).isZero();
                }
                if (!loopback) {
                    assertThat(room == 0).as("FR 0x%x full against %d bytes of room", flags, room).isEqualTo((flags & Pl011.FR_RXFF) != 0);
                }
                long masked = uart.read(Pl011.MIS, 4);
                assertThat(irq.high()).as("the interrupt line against MIS 0x%x", masked).isEqualTo(masked != 0);
            }
        }
    }
}
