package dev.nimbus.mshv.vp;

import java.lang.foreign.MemorySegment;

/**
 * Guest RAM as the VP run loop reaches it by guest physical address: where {@code ins}/{@code outs} move their
 * data. The partition's memory regions implement it; a test passes its own.
 */
@FunctionalInterface
public interface GuestRam {
    /** The {@code size} bytes at {@code gpa}, or {@code null} when they are not all in one region of RAM. */
    MemorySegment at(long gpa, long size);
}
