package dev.nimbus.arch.riscv64;

import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.List;

/**
 * Where everything sits in the guest physical address space of the Nimbus riscv64 machine: devices below
 * 2 GiB at QEMU {@code virt}'s addresses (its S-mode APLIC and IMSIC, UART, Goldfish RTC, PCI windows), RAM
 * from 2 GiB ({@value #RAM_BASE_HEX}) up, the 64-bit PCI window after RAM. A guest's expectations, and a
 * developer's, carry over from QEMU; the table in {@link Riscv64Platform} says what each is.
 */
public final class Riscv64Layout {
    private Riscv64Layout() {}

    public static final long KIB = 1024;
    public static final long MIB = 1024 * KIB;
    public static final long GIB = 1024 * MIB;
    static final String RAM_BASE_HEX = "0x8000_0000";

    /** The Goldfish RTC (4 KiB), APLIC source {@link #RTC_IRQ}. */
    public static final long RTC = 0x0010_1000L;
    public static final long RTC_SIZE = 4 * KIB;
    /** The supervisor-level APLIC, in MSI mode: KVM's in-kernel APLIC claims 16 KiB ({@code KVM_DEV_RISCV_APLIC_SIZE}). */
    public static final long APLIC = 0x0d00_0000L;
    public static final long APLIC_SIZE = 16 * KIB;
    /** The ns16550a UART: 8 one-byte registers in a 256-byte window, APLIC source {@link #UART_IRQ}. */
    public static final long UART = 0x1000_0000L;
    public static final long UART_SIZE = 0x100;
    /** The supervisor-level IMSICs: one 4 KiB interrupt file per hart, hart n at {@code IMSIC + n * 4 KiB}. */
    public static final long IMSIC = 0x2800_0000L;
    public static final long IMSIC_STRIDE = 4 * KIB;
    /** PCI ECAM: 16 buses of 1 MiB. */
    public static final AddressRange PCI_ECAM = new AddressRange(0x3000_0000L, 16 * MIB);
    /** 32-bit PCI BARs: 0x4000_0000 up to RAM. */
    public static final AddressRange MMIO32 = new AddressRange(0x4000_0000L, 0x4000_0000L);
    /** Where RAM starts (2 MiB-aligned, as the kernel's load base must be). */
    public static final long RAM_BASE = 0x8000_0000L;
    /** Bytes of the 64-bit MMIO window above RAM. */
    public static final long MMIO64_SIZE = 64 * GIB;

    /** The UART's APLIC source (QEMU virt's). */
    public static final int UART_IRQ = 10;
    /** The RTC's APLIC source (QEMU virt's). */
    public static final int RTC_IRQ = 11;
    /** Wired interrupt sources the APLIC has, 1 to 96 (QEMU virt's count). */
    public static final int APLIC_SOURCES = 96;
    /** Interrupt identities each IMSIC interrupt file has, 1 to 255: MSIs of the PCI functions and the APLIC's. */
    public static final int IMSIC_IDS = 255;
    /** The most harts: QEMU virt's limit; their IMSIC files need {@code 512 * 4 KiB}, far below the ECAM. */
    public static final int MAX_VCPUS = 512;
    /** The smallest machine: room for a kernel, its initramfs and device tree. */
    public static final long MIN_RAM = 64 * MIB;
    /**
     * The most RAM: what the smallest G-stage address space (Sv39x4, 41 bits), which every riscv64 KVM host
     * offers, holds above 2 GiB with the MMIO64 window after it.
     */
    public static final long MAX_RAM = (1L << 41) - RAM_BASE - GIB - MMIO64_SIZE;

    /** The layout for {@code ramBytes} of RAM (a multiple of 2 MiB, at least 64 MiB). */
    public static MachineLayout layout(long ramBytes) {
        if (ramBytes < MIN_RAM || ramBytes > MAX_RAM || ramBytes % (2 * MIB) != 0) {
            throw new IllegalArgumentException(String.format(
                    "riscv64 RAM must be a multiple of 2 MiB from 64 MiB to %d GiB, not %d bytes", MAX_RAM / GIB, ramBytes));
        }
        long ramEnd = RAM_BASE + ramBytes;
        long mmio64 = (ramEnd + GIB - 1) & -GIB;
        List<AddressRange> reserved = List.of(
                new AddressRange(RTC, RTC_SIZE),
                new AddressRange(APLIC, APLIC_SIZE),
                new AddressRange(UART, UART_SIZE),
                new AddressRange(IMSIC, MAX_VCPUS * IMSIC_STRIDE),
                PCI_ECAM);
        return new MachineLayout(List.of(new AddressRange(RAM_BASE, ramBytes)), MMIO32,
                new AddressRange(mmio64, MMIO64_SIZE), PCI_ECAM, reserved);
    }

    /** Hart {@code hart}'s IMSIC interrupt file. */
    public static long imsic(int hart) {
        return IMSIC + hart * IMSIC_STRIDE;
    }
}
