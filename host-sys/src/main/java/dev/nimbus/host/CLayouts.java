package dev.nimbus.host;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds {@link MemoryLayout}s the way a C compiler lays out a struct on the LP64 ABIs Nimbus runs on:
 * each member at the next multiple of its alignment, the whole padded to its largest alignment. The
 * struct definitions then list only the members, in header order, with the header's names.
 *
 * <p>Naming conventions the layout tests rely on: a member's name is its C name; an anonymous C union
 * or struct is named with a leading {@code $} (it is left out of the C member path, but {@link #offset}
 * names it); padding the compiler inserts has no name. Flexible array members ({@code entries[]}) are not
 * part of a layout.
 *
 * <p>Packed structs ({@code __attribute__((packed))}, which the Microsoft Hypervisor's formats use
 * throughout) are built with {@link #packedStruct} and {@link #packedUnion}: members back to back, every
 * scalar unaligned. A C bit-field's storage unit has no C name of its own; {@link #bits} names it with a
 * leading {@code $} too, and the layout tests check its bits apart ({@code offsetof} cannot name a
 * bit-field).
 *
 * <p>Shared by the backends (KVM, MSHV) and by the host's own structs; it knows no kernel interface.
 */
public final class CLayouts {
    public static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    public static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT;
    public static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT;
    public static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;

    private CLayouts() {}

    /** A C struct {@code name} with {@code members} in declaration order. */
    public static StructLayout struct(String name, MemoryLayout... members) {
        List<MemoryLayout> out = new ArrayList<>();
        long offset = 0;
        long align = 1;
        for (MemoryLayout m : members) {
            long a = m.byteAlignment();
            align = Math.max(align, a);
            long pad = (a - offset % a) % a;
            if (pad > 0) {
                out.add(MemoryLayout.paddingLayout(pad));
                offset += pad;
            }
            out.add(m);
            offset += m.byteSize();
        }
        long tail = (align - offset % align) % align;
        if (tail > 0) {
            out.add(MemoryLayout.paddingLayout(tail));
        }
        return MemoryLayout.structLayout(out.toArray(MemoryLayout[]::new)).withName(name);
    }

    /**
     * A packed C struct {@code name}: members back to back with no padding, every scalar and nested group
     * byte-aligned (pass nested structs and unions built with the packed builders).
     */
    public static StructLayout packedStruct(String name, MemoryLayout... members) {
        return MemoryLayout.structLayout(unaligned(members)).withName(name);
    }

    /** A packed C union {@code name}: as large as its largest member, byte-aligned. */
    public static UnionLayout packedUnion(String name, MemoryLayout... members) {
        return MemoryLayout.unionLayout(unaligned(members)).withName(name);
    }

    private static MemoryLayout[] unaligned(MemoryLayout... members) {
        MemoryLayout[] out = new MemoryLayout[members.length];
        for (int i = 0; i < members.length; i++) {
            MemoryLayout m = members[i];
            if (m instanceof GroupLayout g && g.byteAlignment() != 1) {
                throw new IllegalArgumentException(g.name().orElse("a member") + " of a packed layout must be packed too");
            }
            out[i] = switch (m) {
                case ValueLayout v -> v.withByteAlignment(1);
                case SequenceLayout q when q.elementLayout() instanceof ValueLayout e ->
                        q.name().map(n -> MemoryLayout.sequenceLayout(q.elementCount(), e.withByteAlignment(1)).withName(n))
                                .orElseGet(() -> MemoryLayout.sequenceLayout(q.elementCount(), e.withByteAlignment(1)));
                default -> m;
            };
        }
        return out;
    }

    /**
     * The storage unit of C bit-fields ({@code u8 instruction_length:4; u8 cr8:4;} is one {@code U8}), named
     * {@code $name}: the layout tests check its offset through its neighbours and its bits apart.
     */
    public static MemoryLayout bits(String name, ValueLayout unit) {
        return unit.withName("$" + name);
    }

    /** A C union {@code name}, padded to a multiple of its alignment. */
    public static UnionLayout union(String name, MemoryLayout... members) {
        long size = 0;
        long align = 1;
        for (MemoryLayout m : members) {
            size = Math.max(size, m.byteSize());
            align = Math.max(align, m.byteAlignment());
        }
        long padded = (size + align - 1) / align * align;
        List<MemoryLayout> out = new ArrayList<>(List.of(members));
        if (padded > size) {
            out.add(MemoryLayout.paddingLayout(padded));
        }
        return MemoryLayout.unionLayout(out.toArray(MemoryLayout[]::new)).withName(name);
    }

    /** {@code type name[count]} */
    public static SequenceLayout array(String name, MemoryLayout element, long count) {
        return MemoryLayout.sequenceLayout(count, element).withName(name);
    }

    /** A scalar member. */
    public static MemoryLayout field(String name, ValueLayout type) {
        return type.withName(name);
    }

    /** A nested struct or union member named {@code name}. */
    public static MemoryLayout member(String name, GroupLayout type) {
        return type.withName(name);
    }

    /**
     * The byte offset of the member at {@code path}, one name per level, an anonymous union or struct by its
     * {@code $} name: {@link MemoryLayout#byteOffset} with a {@code groupElement} per name. For the offset
     * constants next to the layouts, which are computed once; a name the layout lacks fails their class's
     * initialization.
     */
    public static long offset(GroupLayout layout, String... path) {
        MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = MemoryLayout.PathElement.groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }
}
