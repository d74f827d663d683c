package dev.nimbus.devices.virtio;

import dev.nimbus.devices.testing.QuietLogs;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.OutputStream;
import java.util.List;

import static dev.nimbus.devices.virtio.VirtioNetFuzzTest.RAM;
import static dev.nimbus.devices.virtio.VirtioNetFuzzTest.USED;
import static dev.nimbus.devices.virtio.VirtioNetFuzzTest.ringsApart;
import static dev.nimbus.devices.virtio.VirtioNetFuzzTest.writableBytes;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for virtio-console's request handling: the fuzzer writes both queues (receive at 0, transmit
 * at 0x400, laid out as {@link VirtioNetFuzzTest#ringsApart} does), types host input into a 64-byte input
 * buffer, notifies either queue and writes the emergency register, in any order. Invariants: only
 * {@link VirtQueueException}; every transmit chain comes back with length 0; no receive chain reports more
 * bytes than its writable buffers hold; the used lengths add up to {@code rx_bytes}, and what was delivered
 * and dropped is no more than what was typed; the output got exactly {@code tx_bytes} plus the emergency
 * writes.
 */
class VirtioConsoleFuzzTest {
    static final long TX_BASE = 0x400;
    static final int INPUT_CAPACITY = 64;


    @FuzzTest(maxDuration = "30s")
    void consoleRequestsStayInTheirChains(FuzzedDataProvider data) throws Exception {
        try (QuietLogs quiet = QuietLogs.during()) {
            int rxSize = 1 << data.consumeInt(0, 4);
            int txSize = 1 << data.consumeInt(0, 4);
            boolean eventIdx = data.consumeBoolean();
            long[] output = {0};
            OutputStream counting = new OutputStream() {
                @Override
                public void write(int b) {
                    output[0]++;
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    output[0] += len;
                }
            };
            try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)))) {
                VirtQueue rx = ringsApart(memory, 0, rxSize, eventIdx, data);
                VirtQueue tx = ringsApart(memory, TX_BASE, txSize, eventIdx, data);
                VirtioConsole console = new VirtioConsole(counting, 80, 24, INPUT_CAPACITY);
                console.activate(console.deviceFeatures());
                long typed = 0;
                long emergency = 0;
                int rxChecked = 0;
                int txChecked = 0;
                long rxUsedBytes = 0;
                boolean lapped = false;
                try {
                    for (int op = 0; op < 16 && data.remainingBytes() > 0; op++) {
                        switch (data.consumeInt(0, 3)) {
                            case 0 -> {
                                byte[] input = data.consumeBytes(data.consumeInt(0, 2 * INPUT_CAPACITY));
                                console.receive(input, 0, input.length);
                                typed += input.length;
                            }
                            case 1 -> console.process(VirtioConsole.RECEIVEQ, rx);
                            case 2 -> console.process(VirtioConsole.TRANSMITQ, tx);
                            default -> {
                                int offset = data.consumeInt(0, 15);
                                console.writeConfig(offset, 1 << data.consumeInt(0, 2), data.consumeLong());
                                if (offset == VirtioConsole.CONFIG_EMERG_WR) {
                                    emergency++;
                                }
                            }
                        }
                        int rxUsed = memory.readShort(USED + 2) & 0xffff;
                        int added = (rxUsed - rxChecked) & 0xffff;
                        lapped |= added > rxSize;
                        for (int i = Math.max(0, added - rxSize); i < added; i++) {
                            long entry = USED + 4 + 8L * ((rxChecked + i) % rxSize);
                            int head = memory.readInt(entry);
                            long length = memory.readInt(entry + 4) & 0xffff_ffffL;
                            assertThat(head).as("receive used id").isBetween(0, rxSize - 1);
                            assertThat(length).as("bytes reported in the receive chain at head %d", head)
                                    .isLessThanOrEqualTo(writableBytes(memory, 0, head, rxSize));
                            rxUsedBytes += length;
                        }
                        rxChecked = rxUsed;
                        int txUsed = memory.readShort(TX_BASE + USED + 2) & 0xffff;
                        int txAdded = (txUsed - txChecked) & 0xffff;
                        assertThat(txAdded).as("transmit chains returned at once").isLessThanOrEqualTo(txSize);
                        for (int i = 0; i < txAdded; i++) {
                            long entry = TX_BASE + USED + 4 + 8L * ((txChecked + i) % txSize);
                            assertThat(memory.readInt(entry + 4)).as("used length of a transmit chain").isZero();
                        }
                        txChecked = txUsed;
                    }
                } catch (VirtQueueException expected) {
                    return; // a broken ring: the device needs a reset
                }
                var counters = console.counters();
                assertThat(output[0]).as("bytes output").isEqualTo(counters.get("tx_bytes") + emergency);
                assertThat(counters.get("rx_bytes") + counters.get("rx_dropped_bytes")).as("input delivered and dropped")
                        .isLessThanOrEqualTo(typed);
                assertThat(typed - counters.get("rx_bytes") - counters.get("rx_dropped_bytes")).as("input still held")
                        .isLessThanOrEqualTo(INPUT_CAPACITY);
                if (!lapped) {
                    assertThat(rxUsedBytes).as("used lengths against rx_bytes").isEqualTo(counters.get("rx_bytes"));
                }
            }
        }
    }
}
