package dev.nimbus.arch.x86_64.mptable;

import dev.nimbus.arch.x86_64.X86Layout;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The MP tables read back by the Intel MultiProcessor Specification 1.4, chapter 4. */
class MpTableTest {
    static final long AT = X86Layout.MPTABLE_START;

    record Entry(int type, byte[] bytes) {}

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int sum(byte[] b, int from, int length) {
        int s = 0;
        for (int i = from; i < from + length; i++) {
            s += b[i];
        }
        return s & 0xff;
    }

    /** The configuration table's entries, walked by their type's length (20 for processors, 8 otherwise). */
    private static List<Entry> entries(byte[] t) {
        ByteBuffer b = le(t);
        int table = (int) (b.getInt(4) - AT);
        int count = b.getShort(table + 34) & 0xffff;
        List<Entry> out = new ArrayList<>();
        int p = table + 44;
        for (int i = 0; i < count; i++) {
            int type = t[p];
            int length = type == 0 ? 20 : 8;
            byte[] e = new byte[length];
            System.arraycopy(t, p, e, 0, length);
            out.add(new Entry(type, e));
            p += length;
        }
        assertThat(p - table).as("entries end where the base table length says").isEqualTo(b.getShort(table + 4) & 0xffff);
        return out;
    }

    @Test
    void floatingPointerPointsAtTheConfigurationTableAndChecksums() {
        byte[] t = MpTable.build(AT, 2, 2);
        assertThat(new String(t, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("_MP_");
        assertThat(le(t).getInt(4)).isEqualTo((int) AT + 16);
        assertThat(t[8]).as("length in 16-byte units").isEqualTo((byte) 1);
        assertThat(t[9]).as("spec revision 1.4").isEqualTo((byte) 4);
        assertThat(t[11]).as("feature byte 1: a configuration table is present").isZero();
        assertThat(sum(t, 0, 16)).isZero();
    }

    @Test
    void configurationTableChecksumsAndNamesTheLocalApic() {
        byte[] t = MpTable.build(AT, 3, 3);
        assertThat(new String(t, 16, 4, StandardCharsets.US_ASCII)).isEqualTo("PCMP");
        int length = le(t).getShort(16 + 4) & 0xffff;
        assertThat(16 + length).isEqualTo(t.length);
        assertThat(sum(t, 16, length)).isZero();
        assertThat(le(t).getInt(16 + 36)).isEqualTo((int) X86Layout.LAPIC_ADDRESS);
    }

    @Test
    void everyVcpuIsAnEnabledProcessorAndOnlyVcpuZeroBoots() {
        List<Entry> cpus = entries(MpTable.build(AT, 4, 4)).stream().filter(e -> e.type() == 0).toList();
        assertThat(cpus).hasSize(4);
        for (int i = 0; i < 4; i++) {
            byte[] e = cpus.get(i).bytes();
            assertThat(e[1]).as("APIC id").isEqualTo((byte) i);
            assertThat(e[3] & 1).as("enabled").isEqualTo(1);
            assertThat(e[3] >> 1 & 1).as("bootstrap processor").isEqualTo(i == 0 ? 1 : 0);
        }
    }

    @Test
    void ioApicAndIsaBusAreListed() {
        List<Entry> all = entries(MpTable.build(AT, 2, 2));
        byte[] bus = all.stream().filter(e -> e.type() == 1).findFirst().orElseThrow().bytes();
        assertThat(new String(bus, 2, 6, StandardCharsets.US_ASCII)).isEqualTo("ISA   ");
        byte[] ioapic = all.stream().filter(e -> e.type() == 2).findFirst().orElseThrow().bytes();
        assertThat(ioapic[1]).as("IOAPIC id").isEqualTo((byte) 2);
        assertThat(ioapic[3] & 1).as("usable").isEqualTo(1);
        assertThat(le(ioapic).getInt(4)).isEqualTo((int) X86Layout.IOAPIC_ADDRESS);
    }

    @Test
    void isaIrqsGoToTheirIoApicPinsWithTheTimerOnPinTwo() {
        List<byte[]> ints = entries(MpTable.build(AT, 1, 1)).stream().filter(e -> e.type() == 3).map(Entry::bytes).toList();
        // {interrupt type, source IRQ, destination pin}
        List<List<Integer>> routes = ints.stream().map(e -> List.of((int) e[1], (int) e[5], (int) e[7])).toList();
        assertThat(routes).contains(List.of(3, 0, 0));   // ExtINT from the 8259 on pin 0
        assertThat(routes).contains(List.of(0, 0, 2));   // the PIT's IRQ 0 on pin 2
        assertThat(routes).contains(List.of(0, 4, 4), List.of(0, 8, 8), List.of(0, 1, 1));
        assertThat(routes).noneMatch(r -> r.get(0) == 0 && r.get(1) == 2); // IRQ 2 is the cascade
        assertThat(ints).allMatch(e -> e[6] == 1);      // all to IOAPIC id 1
    }

    @Test
    void localInterruptsAreExtIntOnLint0AndNmiOnLint1ForAllProcessors() {
        List<byte[]> lints = entries(MpTable.build(AT, 2, 2)).stream().filter(e -> e.type() == 4).map(Entry::bytes).toList();
        assertThat(lints).hasSize(2);
        assertThat(lints).anyMatch(e -> e[1] == 3 && e[7] == 0 && (e[6] & 0xff) == 0xff);
        assertThat(lints).anyMatch(e -> e[1] == 1 && e[7] == 1 && (e[6] & 0xff) == 0xff);
    }

    @Test
    void tablesFor254VcpusFitTheBiosArea() {
        assertThat(AT + MpTable.build(AT, 254, 254).length).isLessThanOrEqualTo(X86Layout.MPTABLE_END);
    }
}
