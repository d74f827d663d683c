package dev.nimbus.hypervisor.arch;

import dev.nimbus.hypervisor.memory.AddressRange;

/**
 * A device an architecture's machine model has at a fixed place, described for the VMM (which creates it
 * from the {@code devices} module) and for the firmware tables (which tell the guest where it is). The
 * arch platform picks the kinds and places; the VMM and the devices never branch on the architecture.
 */
public sealed interface PlatformDevice {
    /** The interrupt line (GSI / SPI / APLIC source) the device raises, or -1 when it has none. */
    int irq();

    /** A serial port: the console of early boot. */
    record SerialPort(Model model, long base, int irq) implements PlatformDevice {
        /** Which UART and how it is reached. */
        public enum Model {
            /** 16550A in x86 port I/O space. */
            UART_16550_PIO,
            /** 16550A-compatible (ns16550a) in MMIO space, 1-byte registers. */
            UART_16550_MMIO,
            /** Arm PrimeCell PL011 in MMIO space. */
            PL011
        }
    }

    /** A real-time clock. */
    record RealTimeClock(Model model, long base, int irq) implements PlatformDevice {
        /** Which RTC. */
        public enum Model {
            /** The PC CMOS RTC at ports 0x70/0x71. */
            CMOS,
            /** Arm PrimeCell PL031 in MMIO space. */
            PL031,
            /** Goldfish RTC (riscv64 virt machines) in MMIO space. */
            GOLDFISH
        }
    }

    /**
     * The PC keyboard controller (Intel 8042) in port I/O space: the data register at {@code base}
     * (0x60) and the status/command register at {@code base + 4} (0x64). Nimbus needs it for one thing:
     * the guest resets the machine by writing command {@value #RESET_COMMAND} to the command register
     * (Linux's {@code reboot=k}, and its fallback when ACPI reset fails). {@code irq} is the keyboard
     * line (1). With no keyboard attached, a status read says "output buffer empty".
     */
    record I8042(long base, int irq) implements PlatformDevice {
        /** Offset of the status (read) / command (write) register from {@code base}. */
        public static final int COMMAND_OFFSET = 4;
        /** The command that pulses the CPU reset line. */
        public static final int RESET_COMMAND = 0xfe;
    }

    /**
     * The POST / debug port (0x80) in port I/O space: one byte. Writes are accepted; the device records
     * the non-zero ones as boot progress codes with a timestamp (0x40 kernel start, 0x41 user space start)
     * and counts the zeros Linux writes as an I/O delay. Reads return 0. It raises no interrupt.
     */
    record DebugPort(long port) implements PlatformDevice {
        @Override
        public int irq() {
            return -1;
        }
    }

    /**
     * The power control registers of a hardware-reduced ACPI machine, in port I/O space, as the FADT
     * describes them (its {@code SLEEP_CONTROL_REG}, {@code SLEEP_STATUS_REG} and {@code RESET_REG}), one
     * byte each:
     * <ul>
     *   <li>{@code base + }{@value #SLEEP_CONTROL_OFFSET}: sleep control. A write with {@link #SLP_EN}
     *       set and sleep type {@code (value >> }{@value #SLP_TYP_SHIFT}{@code ) & 7} equal to
     *       {@value #S5_SLEEP_TYPE} (the DSDT's {@code _S5} value) powers the machine off; Linux writes
     *       {@code 0x34}. Other sleep types are ignored.</li>
     *   <li>{@code base + }{@value #SLEEP_STATUS_OFFSET}: sleep status; reads 0 (the wake status bit 7
     *       never sets, as no sleep state but S5 is offered), writes are ignored.</li>
     *   <li>{@code base + }{@value #RESET_OFFSET}: reset. Writing {@value #RESET_VALUE} resets the
     *       machine; other values are ignored.</li>
     * </ul>
     * {@value #SIZE} ports are claimed. It raises no interrupt (no SCI on a hardware-reduced machine).
     */
    record AcpiPowerControl(long base) implements PlatformDevice {
        public static final int SLEEP_CONTROL_OFFSET = 0;
        public static final int SLEEP_STATUS_OFFSET = 1;
        public static final int RESET_OFFSET = 2;
        /** Ports claimed from {@code base}. */
        public static final int SIZE = 4;
        /** The value the guest writes to the reset register to reset the machine. */
        public static final int RESET_VALUE = 0x01;
        /** Sleep enable: bit 5 of the sleep control register. */
        public static final int SLP_EN = 0x20;
        /** Position of the 3-bit sleep type field in the sleep control register. */
        public static final int SLP_TYP_SHIFT = 2;
        /** The sleep type of S5 (soft off) as this machine's DSDT {@code _S5} object gives it. */
        public static final int S5_SLEEP_TYPE = 5;

        @Override
        public int irq() {
            return -1;
        }

        /** True when a byte written to the sleep control register asks for S5 (power off). */
        public static boolean isPowerOff(int value) {
            return (value & SLP_EN) != 0 && ((value >> SLP_TYP_SHIFT) & 7) == S5_SLEEP_TYPE;
        }
    }

    /**
     * An ACPI Generic Event Device (ACPI 6.5 section 5.6.9, {@code _HID "ACPI0013"}) and the power button
     * (PNP0C0C) it signals: how a hardware-reduced ACPI machine, which has no fixed power button and no
     * SCI, tells the guest that the button was pressed. It is one 32-bit event register in MMIO space at
     * {@code base} and the interrupt {@code irq} (a GSI, edge-triggered, active high).
     * <ul>
     *   <li>The VMM sets an event bit ({@link #POWER_BUTTON}) and pulses the interrupt.</li>
     *   <li>The guest's GED driver runs the device's {@code _EVT} method, which reads the register; the
     *       read returns the pending bits and clears them. On {@link #POWER_BUTTON} the method does
     *       {@code Notify (\_SB.PWRB, 0x80)}, which Linux's {@code button} driver turns into KEY_POWER.</li>
     *   <li>Writes are ignored. {@value #SIZE} bytes are claimed.</li>
     * </ul>
     */
    record AcpiGenericEventDevice(long base, int irq) implements PlatformDevice {
        /** Bytes claimed from {@code base}: the event register. */
        public static final int SIZE = 4;
        /** The event bit of a power button press (bit 3, where Cloud Hypervisor puts it too). */
        public static final int POWER_BUTTON = 1 << 3;

        public AcpiGenericEventDevice {
            if (irq < 0) {
                throw new IllegalArgumentException("a generic event device needs an interrupt, not " + irq);
            }
        }
    }

    /**
     * An I/O APIC the VMM emulates (82093AA registers in a 4 KiB MMIO window at {@code base}), for a hypervisor
     * that virtualises the local APICs only ({@link dev.nimbus.hypervisor.IrqChipConfig.X86Split}). Its pins are
     * GSIs 0 to {@code pins - 1}: every other platform device's {@link #irq()} is one of them, and each pin's
     * assertion becomes the MSI its redirection entry describes. {@code id} is the APIC id the firmware tables
     * give it. Listed first, so it exists before the devices wired to it.
     */
    record Ioapic(long base, int id, int pins) implements PlatformDevice {
        /** Bytes of the register window. */
        public static final int SIZE = 0x1000;

        public Ioapic {
            if (id < 0 || id > 0xff || pins < 1 || pins > 240) {
                throw new IllegalArgumentException("an IOAPIC has an 8-bit id and 1 to 240 pins, not id " + id + ", " + pins + " pins");
            }
        }

        @Override
        public int irq() {
            return -1;
        }
    }

    /**
     * The PCI host bridge of segment 0. Configuration space is reached through ECAM at {@code ecam}
     * (1 MiB per bus, so the window's size says which buses exist, from 0 to {@link #lastBus()}) and,
     * when {@code configPorts}, also through the x86 port pair 0xcf8/0xcfc. The functions' memory BARs
     * come from the layout's {@code mmio32} and {@code mmio64} windows, which the firmware tables give the
     * guest as the bridge's ranges. The bridge raises no interrupt: its functions use MSI-X.
     */
    record PciHost(AddressRange ecam, boolean configPorts) implements PlatformDevice {
        /** Bytes of ECAM per bus. */
        public static final long ECAM_BUS_SIZE = 1L << 20;

        public PciHost {
            if (ecam.size() < ECAM_BUS_SIZE || ecam.size() % ECAM_BUS_SIZE != 0 || ecam.size() > 256 * ECAM_BUS_SIZE
                    || ecam.base() % ECAM_BUS_SIZE != 0) {
                throw new IllegalArgumentException("an ECAM window is 1 to 256 MiB-aligned MiBs, not " + ecam);
            }
        }

        /** The last bus number the ECAM window covers. */
        public int lastBus() {
            return (int) (ecam.size() / ECAM_BUS_SIZE) - 1;
        }

        @Override
        public int irq() {
            return -1;
        }
    }
}
