package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One entry of the BIOS-style memory map that both boot protocols hand the kernel (the zero page's
 * {@code e820_table}, PVH's {@code hvm_memmap_table_entry} array).
 *
 * @param type {@link #RAM} or {@link #RESERVED}
 */
public record E820Entry(long address, long size, int type) {
    /** Usable RAM. */
    public static final int RAM = 1;
    /** Not RAM, not to be used: firmware tables, device windows. */
    public static final int RESERVED = 2;

    public long end() {
        return address + size;
    }

    /**
     * The memory map of {@code layout}: its RAM, less the legacy hole between 640 KiB and 1 MiB (the PC
     * convention: conventional memory ends at 0xa0000), and its reserved ranges, lowest address first.
     */
    public static List<E820Entry> of(MachineLayout layout) {
        List<E820Entry> map = new ArrayList<>();
        for (AddressRange r : layout.ram()) {
            long start = r.base();
            long end = r.end();
            if (start < X86Layout.LOW_MEMORY_END && end > X86Layout.LOW_MEMORY_END) {
                map.add(new E820Entry(start, X86Layout.LOW_MEMORY_END - start, RAM));
                start = Math.max(X86Layout.HIGH_RAM_START, X86Layout.LOW_MEMORY_END);
            } else if (start >= X86Layout.LOW_MEMORY_END && start < X86Layout.HIGH_RAM_START) {
                start = X86Layout.HIGH_RAM_START;
            }
            if (end > start) {
                map.add(new E820Entry(start, end - start, RAM));
            }
        }
        for (AddressRange r : layout.reserved()) {
            map.add(new E820Entry(r.base(), r.size(), RESERVED));
        }
        map.sort(Comparator.comparingLong(E820Entry::address));
        return List.copyOf(map);
    }
}
