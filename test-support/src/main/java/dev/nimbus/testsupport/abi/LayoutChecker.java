package dev.nimbus.testsupport.abi;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Compares Java struct layouts, bit-fields and constants with what {@link HeaderProbe} read from a set of headers.
 * Every difference becomes one readable line; an empty list means the layouts agree.
 */
public final class LayoutChecker {
    private LayoutChecker() {}

    /** The probe program's statements for {@code layouts}. */
    public static String probe(List<StructLayout> layouts) {
        StringBuilder sb = new StringBuilder();
        layouts.forEach(l -> sb.append(HeaderProbe.structProbe(l)));
        return sb.toString();
    }

    /** Differences between {@code layouts} and the header's answers. */
    public static List<String> compare(List<StructLayout> layouts, HeaderProbe.Answers header) {
        List<String> diffs = new ArrayList<>();
        for (StructLayout s : layouts) {
            String name = s.name().orElseThrow();
            long[] size = header.get("S " + name);
            if (size == null) {
                diffs.add("struct " + name + ": not in the header");
                continue;
            }
            if (size[0] != s.byteSize()) {
                diffs.add(String.format("struct %s: size %d in Java, %d in the header", name, s.byteSize(), size[0]));
            }
            compareMembers(name, s, 0, "", header, diffs);
        }
        return diffs;
    }

    private static void compareMembers(String struct, GroupLayout g, long base, String prefix,
                                       HeaderProbe.Answers header, List<String> diffs) {
        long offset = 0;
        for (MemoryLayout m : g.memberLayouts()) {
            long at = base + (g instanceof UnionLayout ? 0 : offset);
            offset += m.byteSize();
            if (m instanceof PaddingLayout || m.name().isEmpty()) {
                continue;
            }
            String n = m.name().get();
            if (n.startsWith("$")) {
                if (m instanceof GroupLayout anonymous) {
                    compareMembers(struct, anonymous, at, prefix, header, diffs);
                }
                continue; // a bit-field's storage unit: its neighbours pin its offset, compareBitFields its bits
            }
            String path = prefix + n;
            long[] h = header.get("F " + struct + "." + path);
            if (h == null) {
                diffs.add(struct + "." + path + ": not in the header");
                continue;
            }
            if (h[0] != at) {
                diffs.add(String.format("%s.%s: offset %d in Java, %d in the header", struct, path, at, h[0]));
            }
            if (h[1] != m.byteSize()) {
                diffs.add(String.format("%s.%s: size %d in Java, %d in the header", struct, path, m.byteSize(), h[1]));
            }
            if (m instanceof GroupLayout sub) {
                compareMembers(struct, sub, at, path + ".", header, diffs);
            }
        }
    }

    /** Differences between named constants and the header's macros; names the header lacks are returned in {@code missing}. */
    public static List<String> compareConstants(Map<String, Long> constants, HeaderProbe.Answers header, List<String> missing) {
        List<String> diffs = new ArrayList<>();
        constants.forEach((name, value) -> {
            long[] h = header.get("C " + name);
            if (h == null) {
                missing.add(name);
            } else if (h[0] != value) {
                diffs.add(String.format("%s: 0x%x in Java, 0x%x in the header", name, value, h[0]));
            }
        });
        return diffs;
    }

    /** Differences between the Java side's bit-fields and the header's. */
    public static List<String> compareBitFields(List<HeaderProbe.BitField> fields, HeaderProbe.Answers header) {
        List<String> diffs = new ArrayList<>();
        for (HeaderProbe.BitField f : fields) {
            String name = f.struct() + "." + f.path();
            long[] h = header.get("B " + name);
            if (h == null) {
                diffs.add(name + ": not in the header");
            } else if (h[0] != f.byteOffset() || h[1] != f.mask()) {
                diffs.add(String.format("%s: byte %d mask 0x%x in Java, byte %d mask 0x%x in the header",
                        name, f.byteOffset(), f.mask(), h[0], h[1]));
            }
        }
        return diffs;
    }
}
