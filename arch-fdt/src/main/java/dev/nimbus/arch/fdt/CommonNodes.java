package dev.nimbus.arch.fdt;

import java.util.Optional;

/**
 * The nodes every Nimbus device tree writes the same way, whatever the architecture: {@code /chosen},
 * a {@code /memory} node per RAM range, and the generic ECAM PCI host with its two BAR windows. Each
 * architecture adds what is its own: the PCI host's MSI wiring (an ITS {@code msi-map} on arm64, an IMSIC
 * {@code msi-parent} on riscv64), which is why {@link #beginPciEcamHost} leaves its node open.
 */
public final class CommonNodes {
    private CommonNodes() {}

    /** PCI address space codes of the {@code ranges} entries: 32-bit and 64-bit memory. */
    private static final int MEM32 = 0x0200_0000;
    private static final int MEM64 = 0x0300_0000;

    /** {@code /chosen}: the command line, the console's node path if any, and the initramfs {@code [start, end)} if any. */
    public static void chosen(FdtWriter w, String bootargs, Optional<String> stdoutPath, Optional<long[]> initrd) {
        w.beginNode("chosen").string("bootargs", bootargs);
        stdoutPath.ifPresent(p -> w.string("stdout-path", p));
        initrd.ifPresent(r -> w.cells64("linux,initrd-start", r[0]).cells64("linux,initrd-end", r[1]));
        w.endNode();
    }

    /** {@code /memory@BASE} for RAM {@code [base, base + size)}. */
    public static void memory(FdtWriter w, long base, long size) {
        w.beginNode("memory@" + Long.toHexString(base))
                .string("device_type", "memory")
                .cells64("reg", base, size)
                .endNode();
    }

    /**
     * Opens {@code /pcie@ECAM}, a {@code pci-host-ecam-generic} host of segment 0 with buses 0 to
     * {@code lastBus} and its 32-bit and 64-bit BAR windows mapped one to one; the caller adds its MSI
     * wiring and ends the node.
     */
    public static FdtWriter beginPciEcamHost(FdtWriter w, long ecamBase, long ecamSize, int lastBus, long mem32Base,
                                             long mem32Size, long mem64Base, long mem64Size) {
        return w.beginNode("pcie@" + Long.toHexString(ecamBase))
                .string("compatible", "pci-host-ecam-generic")
                .string("device_type", "pci")
                .cells64("reg", ecamBase, ecamSize)
                .cells("bus-range", 0, lastBus)
                .cells("#address-cells", 3)
                .cells("#size-cells", 2)
                .cells("linux,pci-domain", 0)
                .property("dma-coherent")
                .cells("ranges",
                        MEM32, hi(mem32Base), lo(mem32Base), hi(mem32Base), lo(mem32Base), hi(mem32Size), lo(mem32Size),
                        MEM64, hi(mem64Base), lo(mem64Base), hi(mem64Base), lo(mem64Base), hi(mem64Size), lo(mem64Size));
    }

    private static int hi(long v) {
        return (int) (v >>> 32);
    }

    private static int lo(long v) {
        return (int) v;
    }
}
