package dev.nimbus.arch.aarch64;

import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.List;

/**
 * Where everything sits in the guest physical address space of the Nimbus AArch64 machine: devices in
 * the first GiB, RAM from 1 GiB ({@value #RAM_BASE_HEX}) up, as on QEMU's {@code virt} machine and in
 * Cloud Hypervisor. The device addresses are QEMU {@code virt}'s, so a guest's expectations (and a
 * developer's) carry over; the table in {@link Aarch64Platform} says what each is.
 */
public final class Aarch64Layout {
    private Aarch64Layout() {}

    public static final long KIB = 1024;
    public static final long MIB = 1024 * KIB;
    public static final long GIB = 1024 * MIB;
    static final String RAM_BASE_HEX = "0x4000_0000";

    /** The GICv3 distributor (64 KiB). */
    public static final long GIC_DISTRIBUTOR = 0x0800_0000L;
    public static final long GIC_DISTRIBUTOR_SIZE = 64 * KIB;
    /** The GICv3 ITS (128 KiB), when the machine has one. */
    public static final long GIC_ITS = 0x0808_0000L;
    public static final long GIC_ITS_SIZE = 128 * KIB;
    /** The GICv3 redistributors: 128 KiB (RD and SGI frames) per vCPU, up to {@link #UART}. */
    public static final long GIC_REDISTRIBUTOR = 0x080a_0000L;
    public static final long GIC_REDISTRIBUTOR_STRIDE = 128 * KIB;
    /** The PL011 UART (4 KiB). */
    public static final long UART = 0x0900_0000L;
    /** The PL031 RTC (4 KiB). */
    public static final long RTC = 0x0901_0000L;
    /** The size of a PrimeCell device's register window. */
    public static final long PRIMECELL_SIZE = 4 * KIB;
    /** The SPI of the UART (interrupt id 32 + 1). */
    public static final int UART_SPI = 1;
    /** The SPI of the RTC (interrupt id 32 + 2). */
    public static final int RTC_SPI = 2;
    /** Shared peripheral interrupts the GIC offers (SPIs 0-63). */
    public static final int SPIS = 64;
    /** 32-bit PCI BARs: 0x1000_0000 to the ECAM. */
    public static final AddressRange MMIO32 = new AddressRange(0x1000_0000L, 0x2f00_0000L);
    /** PCI ECAM: 16 buses of 1 MiB, below RAM. */
    public static final AddressRange PCI_ECAM = new AddressRange(0x3f00_0000L, 16 * MIB);
    /** Where RAM starts. */
    public static final long RAM_BASE = 0x4000_0000L;
    /** Bytes of the 64-bit MMIO window above RAM. */
    public static final long MMIO64_SIZE = 64 * GIB;
    /** The most vCPUs: as many redistributors as fit between {@link #GIC_REDISTRIBUTOR} and {@link #UART}. */
    public static final int MAX_VCPUS = (int) ((UART - GIC_REDISTRIBUTOR) / GIC_REDISTRIBUTOR_STRIDE);
    /** The smallest machine: room for a kernel, its device tree and not much else. */
    public static final long MIN_RAM = 64 * MIB;
    /** The most RAM: what a 40-bit IPA space (KVM's default) holds above 1 GiB with the MMIO64 window after it. */
    public static final long MAX_RAM = (1L << 40) - RAM_BASE - GIB - MMIO64_SIZE;

    /** The layout for {@code ramBytes} of RAM (a multiple of 2 MiB, at least 64 MiB). */
    public static MachineLayout layout(long ramBytes) {
        if (ramBytes < MIN_RAM || ramBytes > MAX_RAM || ramBytes % (2 * MIB) != 0) {
            throw new IllegalArgumentException(String.format(
                    "aarch64 RAM must be a multiple of 2 MiB from 64 MiB to %d GiB, not %d bytes", MAX_RAM / GIB, ramBytes));
        }
        long ramEnd = RAM_BASE + ramBytes;
        long mmio64 = (ramEnd + GIB - 1) & -GIB;
        List<AddressRange> reserved = List.of(
                new AddressRange(GIC_DISTRIBUTOR, GIC_DISTRIBUTOR_SIZE),
                new AddressRange(GIC_ITS, GIC_ITS_SIZE),
                new AddressRange(GIC_REDISTRIBUTOR, UART - GIC_REDISTRIBUTOR),
                new AddressRange(UART, PRIMECELL_SIZE),
                new AddressRange(RTC, PRIMECELL_SIZE),
                PCI_ECAM);
        return new MachineLayout(List.of(new AddressRange(RAM_BASE, ramBytes)), MMIO32,
                new AddressRange(mmio64, MMIO64_SIZE), PCI_ECAM, reserved);
    }

    /**
     * The MPIDR_EL1 affinity KVM gives vCPU {@code index} (Aff0 = index bits 0-3, Aff1 = bits 4-11,
     * Aff2 = bits 12-19): GICv3 redistributors are found by it, and the device tree's {@code /cpus} nodes
     * are named by it. The vCPU set-up checks it against the vCPU's real MPIDR_EL1.
     */
    public static long mpidr(int index) {
        return (index & 0xfL) | (((index >> 4) & 0xffL) << 8) | (((index >> 12) & 0xffL) << 16);
    }
}
