package dev.nimbus.devices.interrupt.ioapic;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The IOAPIC's saved state: what comes back, what the new VM is told, and what is refused. */
class IoapicStateTest {
    private static void write(Ioapic a, int index, long value) {
        a.write(Ioapic.IOREGSEL, 1, index);
        a.write(Ioapic.IOWIN, 4, value);
    }

    private static long read(Ioapic a, int index) {
        a.write(Ioapic.IOREGSEL, 1, index);
        return a.read(Ioapic.IOWIN, 4);
    }

    @Test
    void aRestoredIoapicReadsAndBehavesAsTheSavedOne() {
        IoapicTest.RecordingOutput before = new IoapicTest.RecordingOutput();
        Ioapic saved = new Ioapic(2, before);
        write(saved, 0x00, 0x0700_0000L);                // id 7
        write(saved, 0x11 + 2 * 4, 1L << 24);
        write(saved, 0x10 + 2 * 4, 0x24);                 // pin 4: edge, vector 0x24, APIC 1
        write(saved, 0x10 + 2 * 10, 0x30 | 1 << 15);      // pin 10: level, vector 0x30
        saved.setPin(10, true);                           // sent; remote IRR set; still asserted
        saved.setPin(4, true);                            // sent; still high
        saved.write(Ioapic.IOREGSEL, 1, 0x13);

        IoapicTest.RecordingOutput after = new IoapicTest.RecordingOutput();
        Ioapic restored = new Ioapic(0, after);
        restored.restoreState(saved.saveState());

        assertThat(after.calls).as("the new VM gets the unmasked pins' routes, and nothing is sent")
                .containsExactly("route 4:fee01000/24", "route 10:fee00000/c030");
        assertThat(restored.read(Ioapic.IOREGSEL, 1)).isEqualTo(0x13);
        assertThat(read(restored, 0x00)).isEqualTo(0x0700_0000L);
        for (int pin = 0; pin < Ioapic.PINS; pin++) {
            assertThat(restored.redirectionEntry(pin)).as("pin %d", pin).isEqualTo(saved.redirectionEntry(pin));
        }
        restored.setPin(4, true);
        assertThat(after.sends()).as("pin 4 was already high: no new edge").isEmpty();
        restored.endOfInterrupt(0x30);
        assertThat(after.sends()).as("pin 10 still asserted at its EOI").containsExactly("send 10:fee00000/c030");
    }

    @Test
    void stateOfAnotherLengthOrWithEntriesTheGuestCouldNotWriteIsRefusedAndChangesNothing() {
        Ioapic a = new Ioapic(2, new IoapicTest.RecordingOutput());
        assertThatThrownBy(() -> a.restoreState(new DeviceState(Ioapic.STATE_ID, 1, new byte[12])))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("12 bytes");
        byte[] bad = a.saveState().data();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putLong(8 + 8 * 3, 1L << 14); // remote IRR on an edge entry
        assertThatThrownBy(() -> a.restoreState(new DeviceState(Ioapic.STATE_ID, 1, bad)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("redirection entry 3");
        byte[] reserved = a.saveState().data();
        ByteBuffer.wrap(reserved).order(ByteOrder.LITTLE_ENDIAN).putLong(8, 1L << 30);
        assertThatThrownBy(() -> a.restoreState(new DeviceState(Ioapic.STATE_ID, 1, reserved)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("redirection entry 0");
        assertThatThrownBy(() -> a.restoreState(new DeviceState("serial-16550a", 1, new byte[Ioapic.STATE_SIZE])))
                .isInstanceOf(DeviceStateException.class);
        assertThat(read(a, 0x00)).isEqualTo(0x0200_0000L);
        assertThat(a.redirectionEntry(3)).isEqualTo(1L << 16);
    }
}
