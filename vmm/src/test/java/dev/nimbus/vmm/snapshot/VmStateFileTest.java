package dev.nimbus.vmm.snapshot;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.hypervisor.state.StateRecord;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** state.bin: its layout round trip, and every prefix or flipped byte refused as a SnapshotException, never another exception. */
class VmStateFileTest {
    private static final VmStateFile STATE = new VmStateFile(
            List.of(List.of(new StateRecord("kvm-x86-regs", 1, new byte[144]), new StateRecord("kvm-x86-lapic", 1, new byte[1024])),
                    List.of(new StateRecord("kvm-x86-regs", 1, new byte[144]))),
            List.of(new StateRecord("kvm-x86-ioapic", 1, new byte[] {1, 2})),
            List.of(new DeviceState("serial-16550a", 1, new byte[] {3}), new DeviceState("virtio-pci", 1, new byte[40])));

    @Test
    void roundTrip() throws Exception {
        assertThat(VmStateFile.decode(STATE.encode(), "state.bin")).isEqualTo(STATE);
    }

    @Test
    void everyTruncationIsRefusedNamingWhereItEnds() {
        byte[] bytes = STATE.encode();
        for (int length = 0; length < bytes.length; length++) {
            byte[] prefix = Arrays.copyOf(bytes, length);
            assertThatThrownBy(() -> VmStateFile.decode(prefix, "state.bin")).isInstanceOf(SnapshotException.class)
                    .hasMessageStartingWith("state.bin: ");
        }
        assertThatThrownBy(() -> VmStateFile.decode(Arrays.copyOf(bytes, 200), "state.bin")).hasMessageContaining("truncated in vCPU 0");
    }

    @Test
    void trailingBytesAndAnotherLayoutAreRefused() {
        byte[] bytes = STATE.encode();
        assertThatThrownBy(() -> VmStateFile.decode(Arrays.copyOf(bytes, bytes.length + 3), "state.bin"))
                .hasMessageContaining("3 bytes after the last device state");
        byte[] other = bytes.clone();
        other[8] = 7;
        assertThatThrownBy(() -> VmStateFile.decode(other, "state.bin")).hasMessageContaining("layout version 7 is not supported");
        byte[] magic = bytes.clone();
        magic[0] = 'X';
        assertThatThrownBy(() -> VmStateFile.decode(magic, "state.bin")).hasMessageContaining("not a Nimbus machine state");
    }

    @Test
    void flippedBytesGiveAStateOrARefusalNeverAnotherException() {
        byte[] bytes = STATE.encode();
        Random random = new Random(18);
        for (int i = 0; i < 5_000; i++) {
            byte[] b = bytes.clone();
            b[random.nextInt(b.length)] = (byte) random.nextInt(256);
            try {
                VmStateFile.decode(b, "state.bin");
            } catch (SnapshotException expected) {
                assertThat(expected.getMessage()).startsWith("state.bin: ");
            }
        }
    }
}
