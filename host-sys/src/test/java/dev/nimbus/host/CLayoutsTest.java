package dev.nimbus.host;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.nimbus.host.CLayouts.U16;
import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.U8;
import static dev.nimbus.host.CLayouts.array;
import static dev.nimbus.host.CLayouts.bits;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.member;
import static dev.nimbus.host.CLayouts.offset;
import static dev.nimbus.host.CLayouts.packedStruct;
import static dev.nimbus.host.CLayouts.packedUnion;
import static dev.nimbus.host.CLayouts.struct;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The layout builders give gcc's offsets (the backends' header tests check real structs; these are the rules). */
class CLayoutsTest {
    @Test
    void aStructPadsEachMemberToItsAlignmentAndTheWholeToTheLargest() {
        StructLayout s = struct("s", field("a", U8), field("b", U32), field("c", U16));
        assertThat(offset(s, "b")).isEqualTo(4);
        assertThat(offset(s, "c")).isEqualTo(8);
        assertThat(s.byteSize()).isEqualTo(12);
    }

    @Test
    void aPackedStructHasNoPaddingAndItsMembersCanBeReadAtOddOffsets() {
        StructLayout inner = packedStruct("inner", field("x", U16), field("y", U64));
        StructLayout s = packedStruct("s", field("a", U8), member("in", inner), array("q", U64, 2),
                bits("flags", U8), packedUnion("$u", field("w", U32), field("h", U16)));
        assertThat(offset(s, "in", "y")).isEqualTo(3);
        assertThat(offset(s, "q")).isEqualTo(11);
        assertThat(offset(s, "$flags")).isEqualTo(27);
        assertThat(offset(s, "$u", "w")).isEqualTo(28);
        assertThat(s.byteSize()).isEqualTo(32);
        assertThat(s.byteAlignment()).isEqualTo(1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(s);
            m.set((java.lang.foreign.ValueLayout.OfLong) inner.memberLayouts().get(1), 3, 42L);
            assertThat(m.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 3)).isEqualTo(42L);
        }
    }

    @Test
    void aPackedStructRefusesAnAlignedGroupInside() {
        StructLayout aligned = struct("aligned", field("y", U64));
        assertThatThrownBy(() -> packedStruct("s", field("a", U8), member("in", aligned)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be packed too");
    }
}
