package dev.nimbus.arch.riscv64.fdt;

import dev.nimbus.arch.fdt.CommonNodes;
import dev.nimbus.arch.fdt.FdtWriter;
import dev.nimbus.arch.riscv64.Riscv64Layout;
import dev.nimbus.arch.riscv64.hart.HartFeatures;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The device tree that describes a Nimbus riscv64 machine to Linux: RAM, the harts (each with its ISA as
 * its vCPU reports it, its paging mode and its local interrupt controller), the AIA (an IMSIC interrupt file
 * per hart for MSIs, and an APLIC in MSI mode whose wired sources become MSIs to the IMSICs), the ns16550a
 * UART and the Goldfish RTC on APLIC sources, the boot arguments and the initramfs, and the PCI ECAM host
 * bridge whose functions' MSIs go to the IMSICs. Follows the bindings in Linux's
 * Documentation/devicetree/bindings (riscv/cpus, riscv/extensions, interrupt-controller/riscv,cpu-intc,
 * riscv,imsics, riscv,aplic, serial/8250, rtc/google,goldfish-rtc, pci/host-generic-pci).
 */
public final class Riscv64DeviceTree {
    private Riscv64DeviceTree() {}

    static final int IMSIC_PHANDLE = 1;
    static final int APLIC_PHANDLE = 2;
    /** Hart n's local interrupt controller is phandle {@code CPU_INTC_PHANDLE + n}. */
    static final int CPU_INTC_PHANDLE = 3;
    /** The supervisor external interrupt (scause 9), where each IMSIC file signals its hart. */
    static final int IRQ_S_EXT = 9;
    /** APLIC interrupt specifier flags: level-triggered, active high. */
    static final int IRQ_TYPE_LEVEL_HIGH = 4;
    /** The UART's input clock: 3.6864 MHz, QEMU virt's, which only matters to a guest that sets a baud rate. */
    static final int UART_CLOCK_HZ = 3_686_400;

    /**
     * What the tree describes.
     *
     * @param harts   each hart's features as its vCPU reports them, boot hart (hart id 0) first
     * @param layout  the address space: its RAM ranges, and the PCI BAR windows ({@code mmio32}, {@code mmio64}) a
     *                {@link PlatformDevice.PciHost} gets as its ranges
     * @param aia     the interrupt controller the backend creates
     * @param devices the platform devices (the MMIO 16550, the Goldfish RTC and the PCI host are described; others are refused)
     * @param cmdline the kernel command line
     * @param initrd  where the initramfs was put, if there is one
     */
    public record Contents(List<HartFeatures> harts, MachineLayout layout, IrqChipConfig.Aia aia, List<PlatformDevice> devices,
                           String cmdline, Optional<AddressRange> initrd) {
        public Contents {
            harts = List.copyOf(harts);
            devices = List.copyOf(devices);
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(aia, "aia");
            Objects.requireNonNull(cmdline, "cmdline");
            Objects.requireNonNull(initrd, "initrd");
            if (harts.isEmpty()) {
                throw new IllegalArgumentException("a machine needs at least one hart");
            }
        }
    }

    /** The blob. */
    public static byte[] build(Contents c) {
        long timebase = c.harts().getFirst().timebaseFrequency();
        for (int i = 1; i < c.harts().size(); i++) {
            if (c.harts().get(i).timebaseFrequency() != timebase) {
                throw new IllegalArgumentException(String.format("hart %d's timebase is %d Hz, hart 0's %d Hz: the device tree has one",
                        i, c.harts().get(i).timebaseFrequency(), timebase));
            }
        }
        FdtWriter w = new FdtWriter();
        w.beginNode("")
                .string("compatible", "nimbus,virt")
                .string("model", "Nimbus virtual machine")
                // no interrupt-parent here: the harts' own controllers would inherit it and Linux would find no
                // root controller ("No interrupt controller found"); each wired device names the APLIC itself
                .cells("#address-cells", 2)
                .cells("#size-cells", 2);

        String stdout = null;
        for (PlatformDevice d : c.devices()) {
            if (d instanceof PlatformDevice.SerialPort s && s.model() == PlatformDevice.SerialPort.Model.UART_16550_MMIO) {
                stdout = "/" + serialName(s);
                break;
            }
        }
        CommonNodes.chosen(w, c.cmdline(), Optional.ofNullable(stdout), c.initrd().map(r -> new long[] {r.base(), r.end()}));
        for (AddressRange r : c.layout().ram()) {
            CommonNodes.memory(w, r.base(), r.size());
        }

        w.beginNode("cpus")
                .cells("#address-cells", 1)
                .cells("#size-cells", 0)
                .cells("timebase-frequency", (int) timebase);
        for (int hart = 0; hart < c.harts().size(); hart++) {
            HartFeatures f = c.harts().get(hart);
            w.beginNode("cpu@" + Integer.toHexString(hart))
                    .string("device_type", "cpu")
                    .cells("reg", hart)
                    .string("status", "okay")
                    .string("compatible", "riscv")
                    .string("riscv,isa", f.isaString())
                    .string("riscv,isa-base", f.isaBase())
                    .string("riscv,isa-extensions", f.isaExtensions().toArray(String[]::new))
                    .string("mmu-type", f.mmuType());
            f.cbomBlockSize().ifPresent(size -> w.cells("riscv,cbom-block-size", size));
            f.cbozBlockSize().ifPresent(size -> w.cells("riscv,cboz-block-size", size));
            w.beginNode("interrupt-controller")
                    .string("compatible", "riscv,cpu-intc")
                    .cells("#address-cells", 0) // dtc's interrupt_provider check: no interrupt-map reaches through it
                    .cells("#interrupt-cells", 1)
                    .property("interrupt-controller")
                    .cells("phandle", CPU_INTC_PHANDLE + hart)
                    .endNode();
            w.endNode();
        }
        w.endNode();

        IrqChipConfig.Aia aia = c.aia();
        int[] parents = new int[2 * c.harts().size()];
        for (int hart = 0; hart < c.harts().size(); hart++) {
            parents[2 * hart] = CPU_INTC_PHANDLE + hart;
            parents[2 * hart + 1] = IRQ_S_EXT;
        }
        w.beginNode("interrupt-controller@" + Long.toHexString(aia.imsicBase()))
                .string("compatible", "riscv,imsics")
                .cells64("reg", aia.imsicBase(), Riscv64Layout.IMSIC_STRIDE * c.harts().size())
                .cells("#address-cells", 0)
                .cells("#interrupt-cells", 0)
                .property("interrupt-controller")
                .property("msi-controller")
                .cells("#msi-cells", 0)
                .cells("interrupts-extended", parents)
                .cells("riscv,num-ids", aia.ids())
                .cells("phandle", IMSIC_PHANDLE)
                .endNode();
        w.beginNode("interrupt-controller@" + Long.toHexString(aia.aplicBase()))
                .string("compatible", "riscv,aplic")
                .cells64("reg", aia.aplicBase(), Riscv64Layout.APLIC_SIZE)
                .cells("#address-cells", 0)
                .cells("#interrupt-cells", 2)
                .property("interrupt-controller")
                .cells("msi-parent", IMSIC_PHANDLE)
                .cells("riscv,num-sources", aia.sources())
                .cells("phandle", APLIC_PHANDLE)
                .endNode();

        for (PlatformDevice d : c.devices()) {
            switch (d) {
                case PlatformDevice.SerialPort s when s.model() == PlatformDevice.SerialPort.Model.UART_16550_MMIO ->
                        w.beginNode(serialName(s))
                                .string("compatible", "ns16550a")
                                .cells64("reg", s.base(), Riscv64Layout.UART_SIZE)
                                // one byte per register, next to each other: the devices module's MMIO 16550
                                .cells("reg-shift", 0)
                                .cells("reg-io-width", 1)
                                .cells("clock-frequency", UART_CLOCK_HZ)
                                .cells("interrupt-parent", APLIC_PHANDLE)
                                .cells("interrupts", source(s, aia), IRQ_TYPE_LEVEL_HIGH)
                                .endNode();
                case PlatformDevice.RealTimeClock r when r.model() == PlatformDevice.RealTimeClock.Model.GOLDFISH ->
                        w.beginNode("rtc@" + Long.toHexString(r.base()))
                                .string("compatible", "google,goldfish-rtc")
                                .cells64("reg", r.base(), Riscv64Layout.RTC_SIZE)
                                .cells("interrupt-parent", APLIC_PHANDLE)
                                .cells("interrupts", source(r, aia), IRQ_TYPE_LEVEL_HIGH)
                                .endNode();
                case PlatformDevice.PciHost p when !p.configPorts() -> pciHost(w, p, c.layout());
                default -> throw new IllegalArgumentException("the riscv64 device tree has no binding for " + d);
            }
        }
        w.endNode();
        return w.finish(0);
    }

    /**
     * A generic ECAM host bridge (pci-host-ecam-generic) with the layout's BAR windows identity-mapped as its
     * ranges; its functions' MSIs go to the IMSICs, which need no device id.
     */
    private static void pciHost(FdtWriter w, PlatformDevice.PciHost p, MachineLayout layout) {
        AddressRange m32 = layout.mmio32();
        AddressRange m64 = layout.mmio64();
        CommonNodes.beginPciEcamHost(w, p.ecam().base(), p.ecam().size(), p.lastBus(), m32.base(), m32.size(), m64.base(), m64.size())
                .cells("msi-parent", IMSIC_PHANDLE)
                .endNode();
    }

    private static String serialName(PlatformDevice.SerialPort s) {
        return "serial@" + Long.toHexString(s.base());
    }

    private static int source(PlatformDevice d, IrqChipConfig.Aia aia) {
        if (d.irq() < 1 || d.irq() > aia.sources()) {
            throw new IllegalArgumentException(d + ": APLIC source " + d.irq() + " is not one of the APLIC's sources 1-" + aia.sources());
        }
        return d.irq();
    }


}
