package dev.nimbus.arch.x86_64.smbios;

import dev.nimbus.hypervisor.arch.SystemIdentity;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The SMBIOS tables (DMTF DSP0134) of an x86-64 machine: a 64-bit (SMBIOS 3.0) entry point, which Linux
 * finds by scanning 0xF0000-0xFFFFF on 16-byte boundaries, then the structure table: BIOS information
 * (type 0: a virtual machine with ACPI and PCI), system information (type 1: the {@link SystemIdentity}),
 * OEM strings (type 11, when there are any) and the end-of-table marker (type 127). Each structure is its
 * formatted part followed by its strings, each NUL-terminated, the set ended by one more NUL.
 */
public final class Smbios {
    private Smbios() {}

    /** Bytes of the SMBIOS 3.0 entry point. */
    public static final int ENTRY_POINT_SIZE = 0x18;
    /** Where the structure table starts, from the entry point. */
    public static final int TABLE_OFFSET = 0x20;
    /** At most this many strings in one structure: a string is named by a one-byte index. */
    public static final int MAX_STRINGS = 255;

    private static final int BIOS_INFORMATION = 0;
    private static final int SYSTEM_INFORMATION = 1;
    private static final int OEM_STRINGS = 11;
    private static final int END_OF_TABLE = 127;

    /** The entry point at {@code address} followed, {@link #TABLE_OFFSET} bytes on, by the structure table. */
    public static byte[] build(long address, SystemIdentity id) {
        byte[] table = table(id);
        ByteBuffer b = ByteBuffer.allocate(TABLE_OFFSET + table.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("_SM3_".getBytes(StandardCharsets.US_ASCII))
                .put((byte) 0)                // 0x05 checksum, below
                .put((byte) ENTRY_POINT_SIZE) // 0x06 entry point length
                .put((byte) 3).put((byte) 0)  // 0x07 SMBIOS 3.0
                .put((byte) 0)                // 0x09 docrev
                .put((byte) 1)                // 0x0a entry point revision: 3.0
                .put((byte) 0)                // 0x0b reserved
                .putInt(table.length)         // 0x0c structure table maximum size
                .putLong(address + TABLE_OFFSET); // 0x10 structure table address
        byte[] bytes = b.array();
        bytes[5] = checksum(bytes, 0, ENTRY_POINT_SIZE);
        System.arraycopy(table, 0, bytes, TABLE_OFFSET, table.length);
        return bytes;
    }

    /** The structure table alone. */
    static byte[] table(SystemIdentity id) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int handle = 0;

        Strings s = new Strings();
        ByteBuffer bios = structure(BIOS_INFORMATION, 0x18, handle++);
        bios.put((byte) s.add("Nimbus"))   // 0x04 vendor
                .put((byte) s.add("0"))    // 0x05 BIOS version
                .putShort((short) 0xe800)  // 0x06 starting address segment
                .put((byte) 0)             // 0x08 release date: none
                .put((byte) 0)             // 0x09 ROM size: 64 KiB
                .putLong(1L << 7)          // 0x0a characteristics: PCI is supported
                .put((byte) 0x01)          // 0x12 extension byte 1: ACPI is supported
                .put((byte) 0x10)          // 0x13 extension byte 2: the tables describe a virtual machine
                .put((byte) 0).put((byte) 0)                 // 0x14 system BIOS release
                .put((byte) 0xff).put((byte) 0xff);         // 0x16 no embedded controller firmware
        write(out, bios, s);

        s = new Strings();
        ByteBuffer system = structure(SYSTEM_INFORMATION, 0x1b, handle++);
        system.put((byte) s.add(id.manufacturer()))
                .put((byte) s.add(id.productName()))
                .put((byte) s.add(id.version().orElse(null)))
                .put((byte) s.add(id.serialNumber().orElse(null)))
                .put(uuid(id.uuid().orElse(new UUID(0, 0)))) // 0x08; all zeros: none
                .put((byte) 0x06)                             // 0x18 woken by the power switch
                .put((byte) s.add(id.skuNumber().orElse(null)))
                .put((byte) s.add(id.family().orElse(null)));
        write(out, system, s);

        if (!id.oemStrings().isEmpty()) {
            s = new Strings();
            ByteBuffer oem = structure(OEM_STRINGS, 5, handle++);
            for (String text : id.oemStrings()) {
                s.add(text);
            }
            oem.put((byte) id.oemStrings().size());
            write(out, oem, s);
        }

        write(out, structure(END_OF_TABLE, 4, handle), new Strings());
        return out.toByteArray();
    }

    /** A structure's formatted part with its header written: type, length, handle. */
    private static ByteBuffer structure(int type, int length, int handle) {
        return ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN).put((byte) type).put((byte) length).putShort((short) handle);
    }

    private static void write(ByteArrayOutputStream out, ByteBuffer formatted, Strings strings) {
        if (formatted.hasRemaining()) {
            throw new IllegalStateException("structure type " + formatted.get(0) + ": " + formatted.remaining() + " bytes left unwritten");
        }
        out.writeBytes(formatted.array());
        out.writeBytes(strings.bytes());
    }

    /**
     * A UUID as SMBIOS 2.6 and later lay it out: its first three fields little-endian, the rest in the order
     * written (so that {@code dmidecode} and Linux's {@code product_uuid} show the UUID as given).
     */
    static byte[] uuid(UUID u) {
        ByteBuffer be = ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
        byte[] b = be.array();
        return new byte[] {b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]};
    }

    private static byte checksum(byte[] bytes, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += bytes[i];
        }
        return (byte) -sum;
    }

    /** A structure's string set, numbered from 1 as they are added; 0 stands for no string. */
    private static final class Strings {
        private final List<String> texts = new ArrayList<>();

        int add(String text) {
            if (text == null) {
                return 0;
            }
            String problem = SystemIdentity.textProblem(text);
            if (problem != null) {
                throw new IllegalArgumentException("SMBIOS string '" + text + "' " + problem);
            }
            if (texts.size() == MAX_STRINGS) {
                throw new IllegalArgumentException("more than " + MAX_STRINGS + " strings in one SMBIOS structure");
            }
            texts.add(text);
            return texts.size();
        }

        byte[] bytes() {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (String t : texts) {
                b.writeBytes(t.getBytes(StandardCharsets.US_ASCII));
                b.write(0);
            }
            if (texts.isEmpty()) {
                b.write(0);
            }
            b.write(0);
            return b.toByteArray();
        }
    }
}
