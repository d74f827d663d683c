package dev.nimbus.arch.x86_64.layeringfixture;

import java.lang.foreign.MemorySegment;

/** Breaks the layering on purpose (arch code holding a MemorySegment), to show the rule catches it. */
public final class ArchUsingForeignMemory {
    public long size(MemorySegment segment) {
        return segment.byteSize();
    }
}
