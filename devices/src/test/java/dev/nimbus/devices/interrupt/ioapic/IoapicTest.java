package dev.nimbus.devices.interrupt.ioapic;

import dev.nimbus.hypervisor.MsiMessage;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The 82093AA register model as Linux drives it, and its pins turned into MSIs. */
class IoapicTest {
    /** Records what the IOAPIC asks of its output: "route pin:address/data" or "send pin:address/data". */
    static final class RecordingOutput implements Ioapic.Output {
        final List<String> calls = new ArrayList<>();

        @Override
        public void route(int pin, Optional<MsiMessage> message) {
            calls.add("route " + pin + ":" + message.map(RecordingOutput::text).orElse("masked"));
        }

        @Override
        public void send(int pin, MsiMessage message) {
            calls.add("send " + pin + ":" + text(message));
        }

        List<String> sends() {
            return calls.stream().filter(c -> c.startsWith("send")).toList();
        }

        static String text(MsiMessage m) {
            return String.format("%x/%x", m.address(), m.data());
        }
    }

    private final RecordingOutput out = new RecordingOutput();
    private final Ioapic ioapic = new Ioapic(2, out);

    private void writeRegister(int index, long value) {
        ioapic.write(Ioapic.IOREGSEL, 1, index);
        ioapic.write(Ioapic.IOWIN, 4, value);
    }

    private long readRegister(int index) {
        ioapic.write(Ioapic.IOREGSEL, 1, index);
        return ioapic.read(Ioapic.IOWIN, 4);
    }

    /** Programs entry {@code pin} as Linux does: high half (destination) first, then the low half. */
    private void program(int pin, long low, int destination) {
        writeRegister(0x11 + 2 * pin, (long) destination << 24);
        writeRegister(0x10 + 2 * pin, low);
    }

    private static final long LEVEL = 1 << 15;
    private static final long MASK = 1 << 16;
    private static final long REMOTE_IRR = 1 << 14;

    @Nested
    class Registers {
        @Test
        void ioregselReadsBackTheSelectedIndex() {
            ioapic.write(Ioapic.IOREGSEL, 1, 0x13);
            assertThat(ioapic.read(Ioapic.IOREGSEL, 1)).isEqualTo(0x13);
        }

        @Test
        void idIsTheFirmwaresAndWritableInBits24To31() {
            assertThat(readRegister(0x00)).isEqualTo(0x0200_0000L);
            writeRegister(0x00, 0x0500_0000L);
            assertThat(readRegister(0x00)).isEqualTo(0x0500_0000L);
        }

        @Test
        void versionIs0x11With24EntriesAndReadOnly() {
            assertThat(readRegister(0x01)).isEqualTo(0x0017_0011L);
            writeRegister(0x01, 0);
            assertThat(readRegister(0x01)).isEqualTo(0x0017_0011L);
        }

        @Test
        void arbitrationReadsAsTheId() {
            assertThat(readRegister(0x02)).isEqualTo(0x0200_0000L);
        }

        @Test
        void entriesStartMaskedAndEdgeTriggered() {
            for (int pin = 0; pin < Ioapic.PINS; pin++) {
                assertThat(readRegister(0x10 + 2 * pin)).as("pin %d low", pin).isEqualTo(MASK);
                assertThat(readRegister(0x11 + 2 * pin)).as("pin %d high", pin).isZero();
            }
        }

        @Test
        void entryHalvesReadBackWhatWasWrittenWithoutTheReadOnlyBits() {
            // vector 0x31, lowest priority (1), logical, active low, level, masked; delivery status and remote IRR set
            long low = 0x31 | 1 << 8 | 1 << 11 | 1 << 12 | 1 << 13 | REMOTE_IRR | LEVEL | MASK;
            writeRegister(0x10 + 2 * 5, low);
            writeRegister(0x11 + 2 * 5, 0xff00_0000L | 0x00fe_0000L | 0xffffL);
            assertThat(readRegister(0x10 + 2 * 5)).isEqualTo(low & ~(1 << 12) & ~REMOTE_IRR);
            assertThat(readRegister(0x11 + 2 * 5)).as("destination and extended destination kept, reserved bits dropped")
                    .isEqualTo(0xff00_0000L | 0x00fe_0000L);
        }

        @Test
        void registersPastTheLastEntryReadAllOnesAndIgnoreWrites() {
            writeRegister(0x10 + 2 * Ioapic.PINS, 0x1234);
            assertThat(readRegister(0x10 + 2 * Ioapic.PINS)).isEqualTo(0xffff_ffffL);
        }
    }

    @Nested
    class Messages {
        @Test
        void physicalFixedEdgeEntryIsAnMsiToThatApic() {
            program(4, 0x24, 1);
            assertThat(out.calls).as("the destination written while masked, then the unmasked entry")
                    .containsExactly("route 4:masked", "route 4:fee01000/24");
        }

        @Test
        void logicalDestinationSetsTheAddressDestinationModeBit() {
            program(4, 0x24 | 1 << 11, 3);
            assertThat(out.calls).last().isEqualTo("route 4:fee03004/24");
        }

        @Test
        void deliveryModeAndLevelTriggerGoIntoTheData() {
            program(9, 0x41 | 1 << 8 | LEVEL | MASK, 0);
            writeRegister(0x10 + 2 * 9, 0x41 | 1 << 8 | LEVEL); // unmask
            assertThat(out.calls).last().isEqualTo("route 9:fee00000/c141");
        }

        @Test
        void extendedDestinationIdGoesToAddressBits5To11() {
            program(4, 0x24, 0);
            writeRegister(0x11 + 2 * 4, 0x7fL << 17 | 0x12L << 24);
            assertThat(out.calls).last().isEqualTo("route 4:fee12fe0/24");
        }

        @Test
        void maskingRoutesThePinToNothing() {
            program(4, 0x24, 0);
            writeRegister(0x10 + 2 * 4, 0x24 | MASK);
            assertThat(out.calls).last().isEqualTo("route 4:masked");
        }

        @Test
        void rewritingTheSameEntryDoesNotRouteAgain() {
            program(4, 0x24, 0);
            int routes = out.calls.size();
            program(4, 0x24, 0);
            assertThat(out.calls).hasSize(routes);
        }
    }

    @Nested
    class EdgeTriggered {
        @Test
        void eachRisingEdgeSendsOneMessage() {
            program(4, 0x24, 0);
            ioapic.line(4).pulse();
            ioapic.line(4).pulse();
            assertThat(out.sends()).containsExactly("send 4:fee00000/24", "send 4:fee00000/24");
        }

        @Test
        void aLineHeldHighSendsOnce() {
            program(4, 0x24, 0);
            ioapic.setPin(4, true);
            ioapic.setPin(4, true);
            assertThat(out.sends()).hasSize(1);
        }

        @Test
        void anEdgeOnAMaskedPinIsLost() {
            program(4, 0x24 | MASK, 0);
            ioapic.line(4).pulse();
            writeRegister(0x10 + 2 * 4, 0x24);
            assertThat(out.sends()).isEmpty();
        }

        @Test
        void eoiDoesNotResendAnEdgePin() {
            program(4, 0x24, 0);
            ioapic.setPin(4, true);
            ioapic.endOfInterrupt(0x24);
            assertThat(out.sends()).hasSize(1);
            assertThat(readRegister(0x10 + 2 * 4) & REMOTE_IRR).isZero();
        }
    }

    @Nested
    class LevelTriggered {
        @Test
        void anAssertedLineSendsOnceAndSetsRemoteIrrUntilEoi() {
            program(10, 0x30 | LEVEL, 0);
            ioapic.setPin(10, true);
            ioapic.setPin(10, false);
            ioapic.setPin(10, true);
            assertThat(out.sends()).containsExactly("send 10:fee00000/c030");
            assertThat(readRegister(0x10 + 2 * 10) & REMOTE_IRR).isEqualTo(REMOTE_IRR);
        }

        @Test
        void eoiWhileTheLineIsStillHighSendsAgain() {
            program(10, 0x30 | LEVEL, 0);
            ioapic.setPin(10, true);
            ioapic.endOfInterrupt(0x30);
            assertThat(out.sends()).containsExactly("send 10:fee00000/c030", "send 10:fee00000/c030");
            assertThat(readRegister(0x10 + 2 * 10) & REMOTE_IRR).as("waiting for the second EOI").isEqualTo(REMOTE_IRR);
        }

        @Test
        void eoiAfterTheLineWentLowClearsRemoteIrrAndSendsNothing() {
            program(10, 0x30 | LEVEL, 0);
            ioapic.setPin(10, true);
            ioapic.setPin(10, false);
            ioapic.endOfInterrupt(0x30);
            assertThat(out.sends()).hasSize(1);
            assertThat(readRegister(0x10 + 2 * 10) & REMOTE_IRR).isZero();
            ioapic.setPin(10, true);
            assertThat(out.sends()).as("the next assertion is delivered").hasSize(2);
        }

        @Test
        void eoiOfAnotherVectorLeavesThePinWaiting() {
            program(10, 0x30 | LEVEL, 0);
            ioapic.setPin(10, true);
            ioapic.endOfInterrupt(0x31);
            assertThat(out.sends()).hasSize(1);
            assertThat(readRegister(0x10 + 2 * 10) & REMOTE_IRR).isEqualTo(REMOTE_IRR);
        }

        @Test
        void unmaskingAnAssertedLineSendsIt() {
            program(10, 0x30 | LEVEL | MASK, 0);
            ioapic.setPin(10, true);
            assertThat(out.sends()).isEmpty();
            writeRegister(0x10 + 2 * 10, 0x30 | LEVEL);
            assertThat(out.sends()).containsExactly("send 10:fee00000/c030");
        }

        @Test
        void aMaskedPinIsNotResentOnEoi() {
            program(10, 0x30 | LEVEL, 0);
            ioapic.setPin(10, true);
            writeRegister(0x10 + 2 * 10, 0x30 | LEVEL | MASK);
            ioapic.endOfInterrupt(0x30);
            assertThat(out.sends()).hasSize(1);
            assertThat(readRegister(0x10 + 2 * 10) & REMOTE_IRR).isZero();
        }

        @Test
        void writingTheEntryAsEdgeClearsAStuckRemoteIrr() {
            // Linux's __eoi_ioapic_pin on a version 0x11 IOAPIC: mask + edge, then the old level entry back
            program(10, 0x30 | LEVEL, 0);
            ioapic.setPin(10, true);
            writeRegister(0x10 + 2 * 10, 0x30 | MASK);
            assertThat(readRegister(0x10 + 2 * 10) & REMOTE_IRR).isZero();
            writeRegister(0x10 + 2 * 10, 0x30 | LEVEL);
            assertThat(out.sends()).as("the still-asserted line is delivered again").hasSize(2);
        }

        @Test
        void eoiReachesEveryPinSharingTheVector() {
            program(10, 0x30 | LEVEL, 0);
            program(11, 0x30 | LEVEL, 1);
            ioapic.setPin(10, true);
            ioapic.setPin(11, true);
            ioapic.endOfInterrupt(0x30);
            assertThat(out.sends()).containsExactly("send 10:fee00000/c030", "send 11:fee01000/c030",
                    "send 10:fee00000/c030", "send 11:fee01000/c030");
        }
    }
}
