package dev.nimbus.arch.aarch64.fdt;

import dev.nimbus.arch.aarch64.Aarch64Layout;
import dev.nimbus.arch.fdt.CommonNodes;
import dev.nimbus.arch.fdt.FdtWriter;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The device tree that describes a Nimbus AArch64 machine to Linux: RAM, the vCPUs (started through
 * PSCI 0.2 by {@code hvc}), the architected timer, the GICv3 (and its ITS), the PL011 UART and PL031 RTC
 * with their APB clock, the boot arguments and the initramfs, and the PCI ECAM host bridge with its MSIs
 * mapped to the ITS. Follows the bindings in Linux's Documentation/devicetree/bindings (arm/cpus, arm/psci,
 * timer/arm,arch_timer, interrupt-controller/arm,gic-v3, serial/arm,pl011, rtc/arm,pl031,
 * pci/host-generic-pci).
 */
public final class MachineDeviceTree {
    private MachineDeviceTree() {}

    static final int GIC_PHANDLE = 1;
    static final int CLOCK_PHANDLE = 2;
    static final int ITS_PHANDLE = 3;
    /** Interrupt specifier: the first cell says SPI (0) or PPI (1). */
    static final int GIC_SPI = 0;
    static final int GIC_PPI = 1;
    /** Interrupt specifier flags: level-triggered, active high. */
    static final int IRQ_TYPE_LEVEL_HIGH = 4;
    /** The architected timer's PPIs: secure physical, non-secure physical, virtual, hypervisor. */
    static final int[] TIMER_PPIS = {13, 14, 11, 10};
    /** The GIC's maintenance interrupt (PPI 9). */
    static final int GIC_MAINTENANCE_PPI = 9;
    /** The PrimeCells' APB clock: a fixed 24 MHz, as QEMU's virt machine gives it. */
    static final int APB_CLOCK_HZ = 24_000_000;
    /** Every 16-bit PCI requester ID (bus, device, function) of segment 0. */
    static final int PCI_REQUESTER_IDS = 0x1_0000;

    /**
     * What the tree describes.
     *
     * @param mpidrs  each vCPU's MPIDR_EL1 affinity, boot vCPU first
     * @param layout  the address space: its RAM ranges, and the PCI BAR windows ({@code mmio32},
     *                {@code mmio64}) a {@link PlatformDevice.PciHost} gets as its ranges
     * @param gic     the interrupt controller the backend creates
     * @param devices the platform devices (PL011, PL031 and the PCI host are described; others are refused)
     * @param cmdline the kernel command line
     * @param initrd  where the initramfs was put, if there is one
     */
    public record Contents(List<Long> mpidrs, MachineLayout layout, IrqChipConfig.GicV3 gic, List<PlatformDevice> devices,
                           String cmdline, Optional<AddressRange> initrd) {
        public Contents {
            mpidrs = List.copyOf(mpidrs);
            devices = List.copyOf(devices);
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(gic, "gic");
            Objects.requireNonNull(cmdline, "cmdline");
            Objects.requireNonNull(initrd, "initrd");
            if (mpidrs.isEmpty()) {
                throw new IllegalArgumentException("a machine needs at least one vCPU");
            }
        }
    }

    /** The blob. */
    public static byte[] build(Contents c) {
        FdtWriter w = new FdtWriter();
        w.beginNode("")
                .string("compatible", "nimbus,virt")
                .string("model", "Nimbus virtual machine")
                .cells("interrupt-parent", GIC_PHANDLE)
                .cells("#address-cells", 2)
                .cells("#size-cells", 2);

        String stdout = null;
        for (PlatformDevice d : c.devices()) {
            if (d instanceof PlatformDevice.SerialPort s && s.model() == PlatformDevice.SerialPort.Model.PL011) {
                stdout = "/" + serialName(s);
                break;
            }
        }
        CommonNodes.chosen(w, c.cmdline(), Optional.ofNullable(stdout), c.initrd().map(r -> new long[] {r.base(), r.end()}));
        for (AddressRange r : c.layout().ram()) {
            CommonNodes.memory(w, r.base(), r.size());
        }

        w.beginNode("cpus").cells("#address-cells", 1).cells("#size-cells", 0);
        for (long mpidr : c.mpidrs()) {
            if ((mpidr & ~0xff_ffffL) != 0) {
                throw new IllegalArgumentException("MPIDR affinity 0x" + Long.toHexString(mpidr) + " does not fit one cell");
            }
            w.beginNode("cpu@" + Long.toHexString(mpidr))
                    .string("device_type", "cpu")
                    .string("compatible", "arm,arm-v8")
                    .string("enable-method", "psci")
                    .cells("reg", (int) mpidr)
                    .endNode();
        }
        w.endNode();

        w.beginNode("psci").string("compatible", "arm,psci-0.2").string("method", "hvc").endNode();

        int[] timer = new int[3 * TIMER_PPIS.length];
        for (int i = 0; i < TIMER_PPIS.length; i++) {
            timer[3 * i] = GIC_PPI;
            timer[3 * i + 1] = TIMER_PPIS[i];
            timer[3 * i + 2] = IRQ_TYPE_LEVEL_HIGH;
        }
        w.beginNode("timer").string("compatible", "arm,armv8-timer").cells("interrupts", timer).property("always-on").endNode();

        IrqChipConfig.GicV3 gic = c.gic();
        w.beginNode("interrupt-controller@" + Long.toHexString(gic.distributorBase()))
                .string("compatible", "arm,gic-v3")
                .cells("#interrupt-cells", 3)
                .property("interrupt-controller")
                .cells("#address-cells", 2)
                .cells("#size-cells", 2)
                .property("ranges")
                .cells64("reg", gic.distributorBase(), Aarch64Layout.GIC_DISTRIBUTOR_SIZE,
                        gic.redistributorBase(), Aarch64Layout.GIC_REDISTRIBUTOR_STRIDE * c.mpidrs().size())
                .cells("interrupts", GIC_PPI, GIC_MAINTENANCE_PPI, IRQ_TYPE_LEVEL_HIGH)
                .cells("phandle", GIC_PHANDLE);
        if (gic.itsBase().isPresent()) {
            long its = gic.itsBase().getAsLong();
            w.beginNode("msi-controller@" + Long.toHexString(its))
                    .string("compatible", "arm,gic-v3-its")
                    .property("msi-controller")
                    .cells("#msi-cells", 1)
                    .cells64("reg", its, Aarch64Layout.GIC_ITS_SIZE)
                    .cells("phandle", ITS_PHANDLE)
                    .endNode();
        }
        w.endNode();

        boolean primecells = c.devices().stream().anyMatch(d -> d instanceof PlatformDevice.SerialPort || d instanceof PlatformDevice.RealTimeClock);
        if (primecells) {
            w.beginNode("apb-pclk")
                    .string("compatible", "fixed-clock")
                    .cells("#clock-cells", 0)
                    .cells("clock-frequency", APB_CLOCK_HZ)
                    .string("clock-output-names", "clk24mhz")
                    .cells("phandle", CLOCK_PHANDLE)
                    .endNode();
        }
        for (PlatformDevice d : c.devices()) {
            switch (d) {
                case PlatformDevice.SerialPort s when s.model() == PlatformDevice.SerialPort.Model.PL011 ->
                        w.beginNode(serialName(s))
                                .string("compatible", "arm,pl011", "arm,primecell")
                                .cells64("reg", s.base(), Aarch64Layout.PRIMECELL_SIZE)
                                .cells("interrupts", GIC_SPI, spi(s, c.gic()), IRQ_TYPE_LEVEL_HIGH)
                                .cells("clocks", CLOCK_PHANDLE, CLOCK_PHANDLE)
                                .string("clock-names", "uartclk", "apb_pclk")
                                .endNode();
                case PlatformDevice.RealTimeClock r when r.model() == PlatformDevice.RealTimeClock.Model.PL031 ->
                        w.beginNode("rtc@" + Long.toHexString(r.base()))
                                .string("compatible", "arm,pl031", "arm,primecell")
                                .cells64("reg", r.base(), Aarch64Layout.PRIMECELL_SIZE)
                                .cells("interrupts", GIC_SPI, spi(r, c.gic()), IRQ_TYPE_LEVEL_HIGH)
                                .cells("clocks", CLOCK_PHANDLE)
                                .string("clock-names", "apb_pclk")
                                .endNode();
                case PlatformDevice.PciHost p when !p.configPorts() -> pciHost(w, p, c.layout(), gic);
                default -> throw new IllegalArgumentException("the aarch64 device tree has no binding for " + d);
            }
        }
        w.endNode();
        return w.finish((int) (long) c.mpidrs().getFirst());
    }

    /**
     * A generic ECAM host bridge (pci-host-ecam-generic) with the layout's BAR windows identity-mapped as its
     * ranges, and MSIs through the ITS: requester ID n is ITS device id n ({@code msi-map}), which is the id
     * the VMM gives KVM with each MSI. Without an ITS the bridge has no MSI parent, and its functions no MSIs.
     */
    private static void pciHost(FdtWriter w, PlatformDevice.PciHost p, MachineLayout layout, IrqChipConfig.GicV3 gic) {
        AddressRange m32 = layout.mmio32();
        AddressRange m64 = layout.mmio64();
        CommonNodes.beginPciEcamHost(w, p.ecam().base(), p.ecam().size(), p.lastBus(), m32.base(), m32.size(), m64.base(), m64.size());
        if (gic.itsBase().isPresent()) {
            w.cells("msi-map", 0, ITS_PHANDLE, 0, PCI_REQUESTER_IDS);
        }
        w.endNode();
    }

    private static String serialName(PlatformDevice.SerialPort s) {
        return "serial@" + Long.toHexString(s.base());
    }

    private static int spi(PlatformDevice d, IrqChipConfig.GicV3 gic) {
        if (d.irq() < 0 || d.irq() >= gic.spis()) {
            throw new IllegalArgumentException(d + ": SPI " + d.irq() + " is not one of the GIC's SPIs 0-" + (gic.spis() - 1));
        }
        return d.irq();
    }


}
