package dev.nimbus.mshv.intercept;

import static dev.nimbus.mshv.abi.HvStructs.*;

/** A segment register as the hypervisor reports it ({@code hv_x64_segment_register}). */
public record Segment(long base, int limit, int selector, int attributes) {
    /** The descriptor type (bits 0-3 of the attributes). */
    public int type() {
        return attributes & SEGMENT_TYPE_MASK;
    }

    public int dpl() {
        return (attributes >>> SEGMENT_DPL_SHIFT) & 3;
    }

    public boolean present() {
        return (attributes >>> SEGMENT_P_BIT & 1) != 0;
    }

    /** The L bit: a 64-bit code segment. */
    public boolean longMode() {
        return (attributes >>> SEGMENT_L_BIT & 1) != 0;
    }

    /** The D/B bit: 32-bit default operand size for code. */
    public boolean defaultBig() {
        return (attributes >>> SEGMENT_DB_BIT & 1) != 0;
    }
}
