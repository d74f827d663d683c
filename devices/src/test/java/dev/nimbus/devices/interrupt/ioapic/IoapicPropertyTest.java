package dev.nimbus.devices.interrupt.ioapic;

import dev.nimbus.hypervisor.MsiMessage;
import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random guests against the IOAPIC: any mix of register accesses at any offset and size, line changes and EOIs
 * never throws, and every message it sends is one the spec allows at that moment. A model of the pins (what is
 * asserted, and each level pin's remote IRR as the guest reads it) says when a send was due.
 */
class IoapicPropertyTest {
    private static final long LEVEL = 1 << 15, MASK = 1 << 16, REMOTE_IRR = 1 << 14;

    @Test
    void randomGuestsGetOnlyTheMessagesTheirEntriesAllow() {
        Random random = new Random(0x10a91c);
        for (int run = 0; run < 200; run++) {
            int[] sends = new int[Ioapic.PINS];
            Ioapic[] holder = new Ioapic[1];
            Ioapic ioapic = new Ioapic(random.nextInt(256), new Ioapic.Output() {
                @Override
                public void route(int pin, Optional<MsiMessage> message) {
                    assertThat(pin).isBetween(0, Ioapic.PINS - 1);
                }

                @Override
                public void send(int pin, MsiMessage message) {
                    long e = holder[0].redirectionEntry(pin);
                    assertThat(e & MASK).as("a masked pin sends nothing").isZero();
                    assertThat(message).isEqualTo(Ioapic.message(e));
                    assertThat(message.address() & 0xfff0_0000L).isEqualTo(0xfee0_0000L);
                    sends[pin]++;
                }
            });
            holder[0] = ioapic;
            boolean[] high = new boolean[Ioapic.PINS];
            for (int step = 0; step < 400; step++) {
                int pin = random.nextInt(Ioapic.PINS);
                int before = sends[pin];
                long entry = ioapic.redirectionEntry(pin);
                switch (random.nextInt(6)) {
                    case 0 -> {
                        boolean level = random.nextBoolean();
                        boolean wasHigh = high[pin];
                        high[pin] = level;
                        ioapic.setPin(pin, level);
                        boolean due = level && (entry & MASK) == 0
                                && ((entry & LEVEL) != 0 ? (entry & REMOTE_IRR) == 0 : !wasHigh);
                        assertThat(sends[pin] - before).as("pin %d entry %x set %s after %s", pin, entry, level, wasHigh)
                                .isEqualTo(due ? 1 : 0);
                    }
                    case 1 -> {
                        ioapic.endOfInterrupt((int) (entry & 0xff));
                        long after = ioapic.redirectionEntry(pin);
                        if ((entry & LEVEL) != 0) {
                            boolean resent = high[pin] && (entry & MASK) == 0;
                            assertThat(after & REMOTE_IRR).as("remote IRR after EOI").isEqualTo(resent ? REMOTE_IRR : 0);
                        }
                    }
                    case 2 -> {
                        ioapic.write(Ioapic.IOREGSEL, 1, random.nextInt(0x40));
                        ioapic.write(Ioapic.IOWIN, 4, random.nextLong() & 0xffff_ffffL);
                    }
                    case 3 -> {
                        // an entry Linux could write: any vector, fixed or lowest priority, either trigger, maybe masked
                        long low = 0x20 + random.nextInt(0xdf) | (long) random.nextInt(2) << 8 | (random.nextBoolean() ? LEVEL : 0)
                                | (random.nextInt(4) == 0 ? MASK : 0);
                        ioapic.write(Ioapic.IOREGSEL, 1, Ioapic.REG_REDIRECTION + 2 * pin);
                        ioapic.write(Ioapic.IOWIN, 4, low);
                    }
                    case 4 -> ioapic.read(random.nextInt(Ioapic.SIZE), 1 << random.nextInt(4));
                    default -> ioapic.write(random.nextInt(Ioapic.SIZE), 1 << random.nextInt(4), random.nextLong());
                }
                for (int p = 0; p < Ioapic.PINS; p++) {
                    long e = ioapic.redirectionEntry(p);
                    assertThat(e & (1 << 12)).as("delivery status").isZero();
                    if ((e & LEVEL) == 0) {
                        assertThat(e & REMOTE_IRR).as("an edge pin has no remote IRR").isZero();
                    }
                }
            }
        }
    }
}
