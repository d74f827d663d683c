package dev.nimbus.arch.x86_64.mptable;

import dev.nimbus.arch.x86_64.X86Layout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The Intel MultiProcessor Specification 1.4 tables, for guests that do not use ACPI ({@code acpi=off}):
 * the 16-byte floating pointer ("_MP_") followed by the configuration table ("PCMP") with a processor
 * entry per vCPU (vCPU 0 the bootstrap processor), the ISA bus, the IOAPIC, an I/O interrupt entry per
 * ISA IRQ (the 8259's ExtINT on pin 0, IRQ 0 on pin 2 like the ACPI override, IRQ n on pin n otherwise)
 * and the local interrupts (ExtINT on LINT0, NMI on LINT1, all processors). It lives in the BIOS area
 * (0xf0000), which Linux scans and which holds 254 vCPUs' entries; the EBDA's last KiB would not.
 */
public final class MpTable {
    private MpTable() {}

    public static final int FLOATING_POINTER_SIZE = 16;
    public static final int HEADER_SIZE = 44;
    public static final int PROCESSOR_ENTRY_SIZE = 20;
    public static final int ENTRY_SIZE = 8;
    static final int APIC_VERSION = 0x14;
    static final int IOAPIC_VERSION = 0x11;
    static final int CPU_ENABLED = 1;
    static final int CPU_BOOTSTRAP = 2;
    static final int INT_TYPE_INT = 0;
    static final int INT_TYPE_NMI = 1;
    static final int INT_TYPE_EXTINT = 3;

    /** The floating pointer and the configuration table placed at {@code address}, as one byte array. */
    public static byte[] build(long address, int vcpus, int ioapicId) {
        if (vcpus < 1 || vcpus > 254) {
            throw new IllegalArgumentException("an MP table describes 1 to 254 vCPUs, not " + vcpus);
        }
        int isaIrqs = 16;
        int entries = vcpus + 1 + 1 + (isaIrqs - 1 + 1) + 2; // CPUs, bus, IOAPIC, IRQs (2 skipped, ExtINT added), LINTs
        int tableLength = HEADER_SIZE + vcpus * PROCESSOR_ENTRY_SIZE + (entries - vcpus) * ENTRY_SIZE;
        ByteBuffer b = ByteBuffer.allocate(FLOATING_POINTER_SIZE + tableLength).order(ByteOrder.LITTLE_ENDIAN);

        // floating pointer
        b.put(ascii("_MP_")).putInt((int) (address + FLOATING_POINTER_SIZE)).put((byte) 1).put((byte) 4)
                .put((byte) 0).put((byte) 0).put((byte) 0).put(new byte[3]);

        // configuration table header
        int table = b.position();
        b.put(ascii("PCMP")).putShort((short) tableLength).put((byte) 4).put((byte) 0)
                .put(ascii("NIMBUS  ")).put(ascii("NIMBUSVM    ")).putInt(0).putShort((short) 0)
                .putShort((short) entries).putInt((int) X86Layout.LAPIC_ADDRESS).putShort((short) 0)
                .put((byte) 0).put((byte) 0);
        for (int i = 0; i < vcpus; i++) {
            b.put((byte) 0).put((byte) i).put((byte) APIC_VERSION)
                    .put((byte) (CPU_ENABLED | (i == 0 ? CPU_BOOTSTRAP : 0)))
                    .putInt(0x600)   // CPU signature: family 6
                    .putInt(0x201)   // feature flags: FPU, APIC
                    .putLong(0);
        }
        b.put((byte) 1).put((byte) 0).put(ascii("ISA   "));
        b.put((byte) 2).put((byte) ioapicId).put((byte) IOAPIC_VERSION).put((byte) 1).putInt((int) X86Layout.IOAPIC_ADDRESS);
        ioInterrupt(b, INT_TYPE_EXTINT, 0, ioapicId, 0);
        for (int irq = 0; irq < isaIrqs; irq++) {
            if (irq == 2) {
                continue; // the cascade: pin 2 carries IRQ 0
            }
            ioInterrupt(b, INT_TYPE_INT, irq, ioapicId, irq == 0 ? 2 : irq);
        }
        localInterrupt(b, INT_TYPE_EXTINT, 0);
        localInterrupt(b, INT_TYPE_NMI, 1);

        byte[] a = b.array();
        a[10] = checksum(a, 0, FLOATING_POINTER_SIZE);
        a[table + 7] = checksum(a, table, tableLength);
        return a;
    }

    private static void ioInterrupt(ByteBuffer b, int type, int irq, int ioapicId, int pin) {
        b.put((byte) 3).put((byte) type).putShort((short) 0).put((byte) 0).put((byte) irq).put((byte) ioapicId).put((byte) pin);
    }

    private static void localInterrupt(ByteBuffer b, int type, int lint) {
        b.put((byte) 4).put((byte) type).putShort((short) 0).put((byte) 0).put((byte) 0).put((byte) 0xff).put((byte) lint);
    }

    private static byte checksum(byte[] a, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += a[i];
        }
        return (byte) -sum;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
