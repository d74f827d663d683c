package dev.nimbus.arch.x86_64.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A small builder of ACPI Machine Language (ACPI 6.x chapter 20): each method returns the encoding of
 * one term, so a DSDT body reads like its ASL:
 * <pre>{@code
 * scope("\\_SB_", device("COM1", name("_HID", eisaId("PNP0501")), name("_UID", integer(1)),
 *         name("_CRS", resourceTemplate(io(0x3f8, 8), irqNoFlags(4)))))
 * }</pre>
 * Names are paths of 1-4 character segments ({@code "\\_SB_.COM1"}), padded with '_' as AML wants.
 * The resource descriptors (chapter 6.4) go into {@link #resourceTemplate}.
 */
public final class Aml {
    private Aml() {}

    static final int ZERO_OP = 0x00;
    static final int ONE_OP = 0x01;
    static final int NAME_OP = 0x08;
    static final int BYTE_PREFIX = 0x0a;
    static final int WORD_PREFIX = 0x0b;
    static final int DWORD_PREFIX = 0x0c;
    static final int STRING_PREFIX = 0x0d;
    static final int QWORD_PREFIX = 0x0e;
    static final int SCOPE_OP = 0x10;
    static final int BUFFER_OP = 0x11;
    static final int PACKAGE_OP = 0x12;
    static final int METHOD_OP = 0x14;
    static final int DUAL_NAME_PREFIX = 0x2e;
    static final int MULTI_NAME_PREFIX = 0x2f;
    static final int EXT_OP_PREFIX = 0x5b;
    static final int DEVICE_OP = 0x82; // after EXT_OP_PREFIX
    static final int ROOT_CHAR = '\\';
    static final int PARENT_PREFIX = '^';
    static final int RETURN_OP = 0xa4;
    static final int LOCAL0_OP = 0x60;
    static final int STORE_OP = 0x70;
    static final int AND_OP = 0x7b;
    static final int NOTIFY_OP = 0x86;
    static final int IF_OP = 0xa0;
    static final int OP_REGION_OP = 0x80; // after EXT_OP_PREFIX
    static final int FIELD_OP = 0x81; // after EXT_OP_PREFIX

    /** The address space of an {@link #operationRegion} (ACPI 6.5 section 19.6.100). */
    public enum RegionSpace {
        SYSTEM_MEMORY(0x00), SYSTEM_IO(0x01);

        final int code;

        RegionSpace(int code) {
            this.code = code;
        }
    }

    /** The access width of a {@link #field}: the AccessType bits of its FieldFlags. */
    public enum Access {
        ANY(0), BYTE(1), WORD(2), DWORD(3), QWORD(4);

        final int code;

        Access(int code) {
            this.code = code;
        }
    }

    /** {@code Scope (path) { terms }}. */
    public static byte[] scope(String path, byte[]... terms) {
        return withPkgLength(new byte[] {(byte) SCOPE_OP}, concat(nameString(path), concat(terms)));
    }

    /** {@code Device (path) { terms }}. */
    public static byte[] device(String path, byte[]... terms) {
        return withPkgLength(new byte[] {(byte) EXT_OP_PREFIX, (byte) DEVICE_OP}, concat(nameString(path), concat(terms)));
    }

    /** {@code Name (path, value)}. */
    public static byte[] name(String path, byte[] value) {
        return concat(new byte[] {NAME_OP}, nameString(path), value);
    }

    /** {@code Method (path, args, Serialized|NotSerialized) { terms }}, sync level 0. */
    public static byte[] method(String path, int args, boolean serialized, byte[]... terms) {
        if (args < 0 || args > 7) {
            throw new IllegalArgumentException("a method takes 0 to 7 arguments, not " + args);
        }
        byte flags = (byte) (args | (serialized ? 0x08 : 0));
        return withPkgLength(new byte[] {(byte) METHOD_OP}, concat(nameString(path), new byte[] {flags}, concat(terms)));
    }

    /** {@code Return (value)}. */
    public static byte[] returnValue(byte[] value) {
        return concat(new byte[] {(byte) RETURN_OP}, value);
    }

    /** {@code OperationRegion (path, space, offset, length)}. */
    public static byte[] operationRegion(String path, RegionSpace space, long offset, long length) {
        return concat(new byte[] {(byte) EXT_OP_PREFIX, (byte) OP_REGION_OP}, nameString(path), new byte[] {(byte) space.code},
                integer(offset), integer(length));
    }

    /**
     * {@code Field (region, access, NoLock, Preserve) { name, bits, ... }}: named fields laid out one after
     * another from the region's start. {@code fields} alternates names and widths: {@code "EVTS", 32}.
     */
    public static byte[] field(String region, Access access, Object... fields) {
        if (fields.length % 2 != 0) {
            throw new IllegalArgumentException("fields come as name, width pairs");
        }
        byte[] list = new byte[0];
        for (int i = 0; i < fields.length; i += 2) {
            String name = (String) fields[i];
            int bits = (Integer) fields[i + 1];
            // NamedField := NameSeg PkgLength, where the PkgLength encoding carries the width in bits
            list = concat(list, nameSeg(name, name), fieldWidth(bits));
        }
        return withPkgLength(new byte[] {(byte) EXT_OP_PREFIX, (byte) FIELD_OP},
                concat(nameString(region), new byte[] {(byte) access.code}, list));
    }

    /** The width of a named field in bits, in PkgLength's encoding but counting only the bits. */
    static byte[] fieldWidth(int bits) {
        if (bits < 1 || bits >= 1 << 28) {
            throw new IllegalArgumentException("a field is 1 bit to 2^28 - 1 bits wide, not " + bits);
        }
        if (bits < 0x40) {
            return new byte[] {(byte) bits};
        }
        int n = bits < 1 << 12 ? 2 : bits < 1 << 20 ? 3 : 4;
        byte[] out = new byte[n];
        out[0] = (byte) (((n - 1) << 6) | (bits & 0xf));
        for (int k = 1; k < n; k++) {
            out[k] = (byte) (bits >> (4 + 8 * (k - 1)));
        }
        return out;
    }

    /** {@code Local0}. */
    public static byte[] local0() {
        return new byte[] {LOCAL0_OP};
    }

    /** A reference to a named object: its NameString. */
    public static byte[] ref(String path) {
        return nameString(path);
    }

    /** {@code Store (value, target)}, which iasl shows as {@code target = value}. */
    public static byte[] store(byte[] value, byte[] target) {
        return concat(new byte[] {STORE_OP}, value, target);
    }

    /** {@code And (a, b)} with no target: the value of {@code a & b}. */
    public static byte[] and(byte[] a, byte[] b) {
        return concat(new byte[] {AND_OP}, a, b, new byte[] {0}); // NullName target
    }

    /** {@code If (predicate) { terms }}. */
    public static byte[] ifThen(byte[] predicate, byte[]... terms) {
        return withPkgLength(new byte[] {(byte) IF_OP}, concat(predicate, concat(terms)));
    }

    /** {@code Notify (path, value)}. */
    public static byte[] notifyObject(String path, int value) {
        return concat(new byte[] {(byte) NOTIFY_OP}, nameString(path), integer(value));
    }

    /** An integer constant in its shortest encoding (Zero, One, Byte/Word/DWord/QWord constant). */
    public static byte[] integer(long value) {
        if (value == 0) {
            return new byte[] {ZERO_OP};
        } else if (value == 1) {
            return new byte[] {ONE_OP};
        } else if (value > 0 && value <= 0xff) {
            return new byte[] {BYTE_PREFIX, (byte) value};
        } else if (value > 0 && value <= 0xffff) {
            return concat(new byte[] {WORD_PREFIX}, le(value, 2));
        } else if (value > 0 && value <= 0xffff_ffffL) {
            return concat(new byte[] {DWORD_PREFIX}, le(value, 4));
        }
        return concat(new byte[] {QWORD_PREFIX}, le(value, 8));
    }

    /** A string constant (ASCII, NUL-terminated). */
    public static byte[] string(String s) {
        for (char c : s.toCharArray()) {
            if (c < 0x01 || c > 0x7f) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL: " + s);
            }
        }
        return concat(new byte[] {STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /** {@code EisaId ("PNP0501")}: the compressed 32-bit id, as a DWord constant. */
    public static byte[] eisaId(String id) {
        if (!id.matches("[A-Z]{3}[0-9A-F]{4}")) {
            throw new IllegalArgumentException("an EISA id is three letters and four hex digits, not " + id);
        }
        int c0 = id.charAt(0) - 0x40, c1 = id.charAt(1) - 0x40, c2 = id.charAt(2) - 0x40;
        int product = Integer.parseInt(id.substring(3), 16);
        byte[] v = {(byte) ((c0 << 2) | (c1 >> 3)), (byte) (((c1 & 7) << 5) | c2), (byte) (product >> 8), (byte) product};
        return concat(new byte[] {DWORD_PREFIX}, v);
    }

    /** {@code Package () { elements }}. */
    public static byte[] packageOf(byte[]... elements) {
        if (elements.length > 255) {
            throw new IllegalArgumentException("a Package holds at most 255 elements");
        }
        return withPkgLength(new byte[] {PACKAGE_OP}, concat(new byte[] {(byte) elements.length}, concat(elements)));
    }

    /** {@code Buffer () { bytes }}. */
    public static byte[] buffer(byte[] bytes) {
        return withPkgLength(new byte[] {BUFFER_OP}, concat(integer(bytes.length), bytes));
    }

    /** {@code ResourceTemplate () { descriptors }}: a buffer of the descriptors and an end tag. */
    public static byte[] resourceTemplate(byte[]... descriptors) {
        return buffer(concat(concat(descriptors), new byte[] {0x79, 0x00}));
    }

    // ---- resource descriptors ----

    /** {@code IO (Decode16, base, base, 1, length)}: a fixed range of I/O ports. */
    public static byte[] io(int base, int length) {
        if (base < 0 || base > 0xffff || length < 1 || length > 0xff) {
            throw new IllegalArgumentException(String.format("bad I/O range 0x%x+%d", base, length));
        }
        return concat(new byte[] {0x47, 0x01}, le(base, 2), le(base, 2), new byte[] {0x01, (byte) length});
    }

    /** {@code IRQNoFlags () { irq }}: an ISA interrupt, edge-triggered, active-high. */
    public static byte[] irqNoFlags(int irq) {
        if (irq < 0 || irq > 15) {
            throw new IllegalArgumentException("an ISA IRQ is 0-15, not " + irq);
        }
        return concat(new byte[] {0x22}, le(1 << irq, 2));
    }

    /** {@code Memory32Fixed (ReadWrite|ReadOnly, base, length)}. */
    public static byte[] memory32Fixed(boolean writable, long base, long length) {
        return concat(new byte[] {(byte) 0x86, 0x09, 0x00, (byte) (writable ? 1 : 0)}, le(base, 4), le(length, 4));
    }

    /**
     * {@code Interrupt (ResourceConsumer, Level|Edge, ActiveHigh|ActiveLow, Exclusive) { gsi }}: an
     * interrupt by its global system interrupt number, for lines above the ISA ones.
     */
    public static byte[] interrupt(boolean level, boolean activeLow, int gsi) {
        int flags = 0x01 | (level ? 0 : 0x02) | (activeLow ? 0x04 : 0);
        return concat(new byte[] {(byte) 0x89, 0x06, 0x00, (byte) flags, 0x01}, le(gsi, 4));
    }

    /** {@code WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, first, last, 0, count)}. */
    public static byte[] wordBusNumber(int first, int last) {
        return addressSpace16(2, 0, first, last);
    }

    /** {@code WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, first, last, 0, count)}. */
    public static byte[] wordIo(int first, int last) {
        return addressSpace16(1, 0x03, first, last);
    }

    private static byte[] addressSpace16(int type, int typeFlags, int min, int max) {
        return concat(new byte[] {(byte) 0x88, 0x0d, 0x00, (byte) type, 0x0c, (byte) typeFlags},
                le(0, 2), le(min, 2), le(max, 2), le(0, 2), le(max - min + 1, 2));
    }

    /** {@code DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...)}. */
    public static byte[] dwordMemory(long base, long length) {
        return concat(new byte[] {(byte) 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01},
                le(0, 4), le(base, 4), le(base + length - 1, 4), le(0, 4), le(length, 4));
    }

    /** {@code QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...)}. */
    public static byte[] qwordMemory(long base, long length) {
        return concat(new byte[] {(byte) 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01},
                le(0, 8), le(base, 8), le(base + length - 1, 8), le(0, 8), le(length, 8));
    }

    // ---- encoding ----

    /** A NameString: root or parent prefixes, then one, two (DualNamePrefix) or more (MultiNamePrefix) segments. */
    public static byte[] nameString(String path) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        if (path.startsWith("\\")) {
            out.write(ROOT_CHAR);
            i = 1;
        } else {
            while (i < path.length() && path.charAt(i) == '^') {
                out.write(PARENT_PREFIX);
                i++;
            }
        }
        String rest = path.substring(i);
        if (rest.isEmpty()) {
            out.write(0); // NullName
            return out.toByteArray();
        }
        String[] segs = rest.split("\\.", -1);
        if (segs.length == 2) {
            out.write(DUAL_NAME_PREFIX);
        } else if (segs.length > 2) {
            if (segs.length > 255) {
                throw new IllegalArgumentException("name path too long: " + path);
            }
            out.write(MULTI_NAME_PREFIX);
            out.write(segs.length);
        }
        for (String s : segs) {
            out.writeBytes(nameSeg(s, path));
        }
        return out.toByteArray();
    }

    private static byte[] nameSeg(String seg, String path) {
        if (!seg.matches("[A-Z_][A-Z0-9_]{0,3}")) {
            throw new IllegalArgumentException("bad AML name segment '" + seg + "' in " + path);
        }
        return (seg + "___".substring(0, 4 - seg.length())).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * PkgLength (20.2.4): the length of itself and what follows, in one byte below 64, otherwise a lead
     * byte with the count of following bytes in bits 6-7 and the low nibble in bits 0-3.
     */
    public static byte[] pkgLength(int bodyLength) {
        for (int n = 1; n <= 4; n++) {
            int total = bodyLength + n;
            if (n == 1 && total < 0x40) {
                return new byte[] {(byte) total};
            }
            if (n > 1 && total < (1 << (4 + 8 * (n - 1)))) {
                byte[] out = new byte[n];
                out[0] = (byte) (((n - 1) << 6) | (total & 0xf));
                for (int k = 1; k < n; k++) {
                    out[k] = (byte) (total >> (4 + 8 * (k - 1)));
                }
                return out;
            }
        }
        throw new IllegalArgumentException("AML package too long: " + bodyLength + " bytes");
    }

    private static byte[] withPkgLength(byte[] op, byte[] body) {
        return concat(op, pkgLength(body.length), body);
    }

    static byte[] le(long value, int bytes) {
        byte[] out = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            out[i] = (byte) (value >>> (8 * i));
        }
        return out;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
