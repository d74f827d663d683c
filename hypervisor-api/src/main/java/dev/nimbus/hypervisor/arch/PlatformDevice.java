package dev.nimbus.hypervisor.arch;

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
}
