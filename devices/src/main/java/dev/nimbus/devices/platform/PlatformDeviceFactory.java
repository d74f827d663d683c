package dev.nimbus.devices.platform;

import dev.nimbus.devices.bus.AddressSpace;
import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.bus.RegisterWindow;
import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.interrupt.ioapic.Ioapic;
import dev.nimbus.devices.pci.PciBarAllocator;
import dev.nimbus.devices.pci.PciConfigIo;
import dev.nimbus.devices.pci.PciEcam;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.power.AcpiPowerRegisters;
import dev.nimbus.devices.power.GenericEventDevice;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.devices.ps2.I8042Controller;
import dev.nimbus.devices.rtc.CmosRtc;
import dev.nimbus.devices.rtc.GoldfishRtc;
import dev.nimbus.devices.rtc.Pl031Rtc;
import dev.nimbus.devices.serial.Pl011;
import dev.nimbus.devices.serial.Serial16550;
import dev.nimbus.devices.time.HostWakeups;
import dev.nimbus.devices.time.Wakeups;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.arch.PlatformDevice.AcpiPowerControl;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.io.OutputStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;

/**
 * Makes the devices an architecture's machine model lists ({@link PlatformDevice}) and says where they go on
 * the buses. One {@code switch} over the sealed description: a new kind of platform device is a compile error
 * here until it is handled, and nothing here asks which architecture it is.
 *
 * <p>Every model the descriptions name is made: the 16550A UART in port I/O or MMIO space, the PL011 UART,
 * the CMOS, PL031 and Goldfish RTCs, the i8042, the debug port, the ACPI power registers, the ACPI generic
 * event device (power button), the PCI host and the userspace IOAPIC (whose messages go to
 * {@link Environment#ioapicOutput()}; the VMM wires the other devices' lines to its pins).
 * {@link UnsupportedDeviceException} is there for models added to the descriptions before the devices.
 */
public final class PlatformDeviceFactory {
    /** Registers of a 16550: eight bytes. */
    static final int UART_16550_REGISTERS = 8;
    /** The CMOS RTC's index and data ports. */
    static final int CMOS_PORTS = 2;
    private static final long FOUR_GIB = 1L << 32;

    /**
     * What the devices need from the machine and the host.
     *
     * @param irqLines     the interrupt line of each GSI the descriptions name
     * @param serialOutput where the UART's output goes
     * @param power        what the guest's power-off and reset requests reach
     * @param rtcClock     the host time the RTC shows
     * @param wakeups      host timers on {@code rtcClock} (the RTC's update and alarm interrupts)
     * @param nanoTime     a monotonic clock for the debug port's timestamps
     * @param startNanos   {@code nanoTime}'s reading when the VM started
     * @param layout       the machine's memory layout (the RTC's memory-size bytes come from it)
     * @param ioapicOutput where a userspace IOAPIC's messages go; null where the machine has none
     */
    public record Environment(IntFunction<IrqLine> irqLines, OutputStream serialOutput, PowerControl power,
                              Clock rtcClock, Wakeups wakeups, LongSupplier nanoTime, long startNanos, MachineLayout layout,
                              Ioapic.Output ioapicOutput) {
        /** An environment for a machine without a userspace IOAPIC. */
        public Environment(IntFunction<IrqLine> irqLines, OutputStream serialOutput, PowerControl power,
                           Clock rtcClock, Wakeups wakeups, LongSupplier nanoTime, long startNanos, MachineLayout layout) {
            this(irqLines, serialOutput, power, rtcClock, wakeups, nanoTime, startNanos, layout, null);
        }

        public Environment {
            Objects.requireNonNull(irqLines, "irqLines");
            Objects.requireNonNull(serialOutput, "serialOutput");
            Objects.requireNonNull(power, "power");
            Objects.requireNonNull(rtcClock, "rtcClock");
            Objects.requireNonNull(wakeups, "wakeups");
            Objects.requireNonNull(nanoTime, "nanoTime");
            Objects.requireNonNull(layout, "layout");
        }

        /** The host's clocks and the process's shared device timer thread, with the VM starting now. */
        public static Environment onHostClocks(IntFunction<IrqLine> irqLines, OutputStream serialOutput, PowerControl power,
                                               MachineLayout layout) {
            return onHostClocks(irqLines, serialOutput, power, layout, null);
        }

        /** As {@link #onHostClocks(IntFunction, OutputStream, PowerControl, MachineLayout)}, with a userspace IOAPIC's output. */
        public static Environment onHostClocks(IntFunction<IrqLine> irqLines, OutputStream serialOutput, PowerControl power,
                                               MachineLayout layout, Ioapic.Output ioapicOutput) {
            return new Environment(irqLines, serialOutput, power, Clock.systemUTC(), HostWakeups.shared(), System::nanoTime,
                    System.nanoTime(), layout, ioapicOutput);
        }
    }

    private final Environment env;

    public PlatformDeviceFactory(Environment env) {
        this.env = Objects.requireNonNull(env, "env");
    }

    /**
     * Makes the device {@code spec} describes.
     *
     * @throws UnsupportedDeviceException for a device model Nimbus does not have yet
     */
    public CreatedDevice create(PlatformDevice spec) {
        return create(spec, null);
    }

    /**
     * Makes the device {@code spec} describes without putting it on the buses (its {@link CreatedDevice#mappings()}
     * say where it goes); a PCI host also needs {@code buses}, where its functions' BARs go (null is fine for
     * every other kind).
     *
     * @throws UnsupportedDeviceException for a device model Nimbus does not have yet
     */
    public CreatedDevice create(PlatformDevice spec, Buses buses) {
        return switch (spec) {
            case PlatformDevice.SerialPort s -> switch (s.model()) {
                case UART_16550_PIO -> uart16550(s, AddressSpace.PIO);
                case UART_16550_MMIO -> uart16550(s, AddressSpace.MMIO);
                case PL011 -> {
                    Pl011 uart = new Pl011(irq(s.irq()), env.serialOutput());
                    yield created(spec, uart, new BusMapping(AddressSpace.MMIO, s.base(), Pl011.SIZE, uart));
                }
            };
            case PlatformDevice.RealTimeClock r -> switch (r.model()) {
                case CMOS -> {
                    CmosRtc rtc = new CmosRtc(env.rtcClock(), irq(r.irq()), env.wakeups(), ramBelow4Gib(env.layout()), ramAbove4Gib(env.layout()));
                    yield created(spec, rtc, pio(r.base(), CMOS_PORTS, rtc));
                }
                case PL031 -> {
                    Pl031Rtc rtc = new Pl031Rtc(env.rtcClock(), irq(r.irq()), env.wakeups());
                    yield created(spec, rtc, new BusMapping(AddressSpace.MMIO, r.base(), Pl031Rtc.SIZE, rtc));
                }
                case GOLDFISH -> {
                    GoldfishRtc rtc = new GoldfishRtc(env.rtcClock(), irq(r.irq()), env.wakeups());
                    yield created(spec, rtc, new BusMapping(AddressSpace.MMIO, r.base(), GoldfishRtc.SIZE, rtc));
                }
            };
            case PlatformDevice.I8042 k -> {
                I8042Controller kbc = new I8042Controller(irq(k.irq()), env.power());
                yield created(spec, kbc,
                        pio(k.base(), 1, new RegisterWindow(kbc, I8042Controller.DATA)),
                        pio(k.base() + PlatformDevice.I8042.COMMAND_OFFSET, 1, new RegisterWindow(kbc, I8042Controller.COMMAND)));
            }
            case PlatformDevice.DebugPort d -> {
                DebugPort port = new DebugPort(env.nanoTime(), env.startNanos());
                yield created(spec, port, pio(d.port(), 1, port));
            }
            case AcpiPowerControl a -> {
                AcpiPowerRegisters regs = new AcpiPowerRegisters(env.power());
                yield created(spec, regs, pio(a.base(), AcpiPowerControl.SIZE, regs));
            }
            case PlatformDevice.AcpiGenericEventDevice g -> {
                GenericEventDevice ged = new GenericEventDevice(irq(g.irq()));
                yield created(spec, ged, new BusMapping(AddressSpace.MMIO, g.base(), PlatformDevice.AcpiGenericEventDevice.SIZE, ged));
            }
            case PlatformDevice.Ioapic i -> {
                if (env.ioapicOutput() == null) {
                    throw new IllegalArgumentException("a userspace IOAPIC needs an IOAPIC output in the environment");
                }
                if (i.pins() != Ioapic.PINS) {
                    throw new UnsupportedDeviceException(spec, "an IOAPIC of " + i.pins() + " pins (the model has " + Ioapic.PINS + ")");
                }
                Ioapic ioapic = new Ioapic(i.id(), env.ioapicOutput());
                yield created(spec, ioapic, new BusMapping(AddressSpace.MMIO, i.base(), PlatformDevice.Ioapic.SIZE, ioapic));
            }
            case PlatformDevice.PciHost h -> {
                if (buses == null) {
                    throw new IllegalArgumentException("a PCI host is made by createAll, which knows the bus its BARs go on");
                }
                PciRoot root = new PciRoot(buses.mmio(), new PciBarAllocator(env.layout().mmio32(), env.layout().mmio64()),
                        PciRoot.BarListener.NONE);
                PciEcam ecam = new PciEcam(root, h.lastBus());
                BusMapping ecamMapping = new BusMapping(AddressSpace.MMIO, h.ecam().base(), ecam.size(), ecam);
                yield h.configPorts()
                        ? created(spec, root, ecamMapping, pio(PciConfigIo.BASE, PciConfigIo.PORTS, new PciConfigIo(root)))
                        : created(spec, root, ecamMapping);
            }
        };
    }

    /** Makes every device of {@code specs} and puts them on {@code buses}; a conflict names both devices. */
    public List<CreatedDevice> createAll(List<PlatformDevice> specs, Buses buses) {
        List<CreatedDevice> out = new ArrayList<>();
        for (PlatformDevice spec : specs) {
            CreatedDevice d = create(spec, buses);
            d.attachTo(buses);
            out.add(d);
        }
        return out;
    }

    private CreatedDevice uart16550(PlatformDevice.SerialPort s, AddressSpace space) {
        Serial16550 uart = new Serial16550(irq(s.irq()), env.serialOutput());
        return created(s, uart, new BusMapping(space, s.base(), UART_16550_REGISTERS, uart));
    }

    private IrqLine irq(int gsi) {
        return gsi < 0 ? IrqLine.NONE : Objects.requireNonNull(env.irqLines().apply(gsi), "no interrupt line for GSI " + gsi);
    }

    private static BusMapping pio(long base, long length, BusDevice device) {
        return new BusMapping(AddressSpace.PIO, base, length, device);
    }

    private static CreatedDevice created(PlatformDevice spec, Object device, BusMapping... mappings) {
        return new CreatedDevice(spec, device, List.of(mappings));
    }

    /** Where RAM ends below 4 GiB (firmware counts it from address 0). */
    static long ramBelow4Gib(MachineLayout layout) {
        long top = 0;
        for (AddressRange r : layout.ram()) {
            if (r.base() < FOUR_GIB) {
                top = Math.max(top, Math.min(r.end(), FOUR_GIB));
            }
        }
        return top;
    }

    /** Bytes of RAM from 4 GiB up. */
    static long ramAbove4Gib(MachineLayout layout) {
        long bytes = 0;
        for (AddressRange r : layout.ram()) {
            if (r.end() > FOUR_GIB) {
                bytes += r.end() - Math.max(r.base(), FOUR_GIB);
            }
        }
        return bytes;
    }
}
