package dev.nimbus.arch.x86_64;

import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.util.ArrayList;
import java.util.List;

/**
 * Where everything sits in the guest physical address space of the Nimbus x86-64 machine. The addresses
 * below 1 MiB follow the choices of Firecracker and Cloud Hypervisor where they are free choices; the
 * table of {@link X86_64Platform} explains each.
 */
public final class X86Layout {
    private X86Layout() {}

    public static final long KIB = 1024;
    public static final long MIB = 1024 * KIB;
    public static final long GIB = 1024 * MIB;

    // --- boot structures below 1 MiB: read by the kernel during early boot, usable RAM afterwards ---
    /** The boot GDT: null, null, code (selector 0x10), data (0x18), TSS (0x20, 16 bytes in long mode). */
    public static final long GDT = 0x500;
    /** An empty boot IDT (one zero entry): nothing may interrupt the kernel before it loads its own. */
    public static final long IDT = 0x540;
    /** PVH: {@code struct hvm_start_info}. */
    public static final long PVH_START_INFO = 0x6000;
    /** PVH: the module list ({@code struct hvm_modlist_entry}), one entry for the initramfs. */
    public static final long PVH_MODLIST = 0x6040;
    /** PVH: the memory map ({@code struct hvm_memmap_table_entry} array), up to 0x7000. */
    public static final long PVH_MEMMAP = 0x6100;
    /** Linux boot protocol: {@code struct boot_params}, the zero page. */
    public static final long ZERO_PAGE = 0x7000;
    /** The boot stack pointer (the stack grows down into 0x8000-0x8ff0). */
    public static final long BOOT_STACK_POINTER = 0x8ff0;
    /** Page map level 4 of the boot page tables. */
    public static final long PML4 = 0x9000;
    /** Page directory pointer table: four entries, one per GiB. */
    public static final long PDPT = 0xa000;
    /** Four page directories of 2 MiB pages (0xb000-0xefff): an identity map of the first 4 GiB. */
    public static final long PD = 0xb000;
    /** The kernel command line, NUL-terminated. */
    public static final long CMDLINE = 0x20000;
    /** Bytes reserved for the command line, its NUL included. */
    public static final int CMDLINE_MAX = 0x10000;

    // --- firmware tables: reserved for the guest's lifetime ---
    /** The end of conventional memory: RAM below it is usable (the PC's 640 KiB). */
    public static final long LOW_MEMORY_END = 0xa0000;
    /** ACPI tables, RSDP first (Linux also scans 0xe0000-0xfffff for it). */
    public static final long ACPI_START = 0xe0000;
    /** The end of the ACPI area. */
    public static final long ACPI_END = 0xf0000;
    /** The MP floating pointer and configuration table (in the BIOS area Linux scans for "_MP_"). */
    public static final long MPTABLE_START = 0xf0000;
    /** The end of the MP table area (254 vCPUs' table takes about 5 KiB of its 32). */
    public static final long MPTABLE_END = 0xf8000;
    /** The SMBIOS entry point and tables (in the BIOS area Linux scans for "_SM3_"), up to the reset vector. */
    public static final long SMBIOS_START = 0xf8000;
    /** The end of the firmware area: the BIOS area ends where RAM for the kernel starts. */
    public static final long FIRMWARE_END = 0x100000;
    /** Where RAM that the kernel is loaded into starts. */
    public static final long HIGH_RAM_START = 0x100000;

    // --- the 32-bit device hole ---
    /** The start of the 1 GiB hole below 4 GiB: RAM stops here and continues at 4 GiB. */
    public static final long HOLE_START = 0xc000_0000L;
    /** 32-bit PCI BARs and MMIO platform devices: 3 GiB to 3.5 GiB. */
    public static final AddressRange MMIO32 = new AddressRange(HOLE_START, 512 * MIB);
    /** PCI ECAM: 256 buses of 1 MiB, 3.5 GiB to 3.75 GiB. */
    public static final AddressRange PCI_ECAM = new AddressRange(0xe000_0000L, 256 * MIB);
    /**
     * The ACPI generic event device's register (the power button's event), in the free stretch between
     * ECAM and the IOAPIC; one 4 KiB page is kept for it.
     */
    public static final long ACPI_GED_ADDRESS = 0xfeb0_0000L;
    /** The IOAPIC's register window. */
    public static final long IOAPIC_ADDRESS = 0xfec0_0000L;
    /** The local APICs' register window (each vCPU sees its own). */
    public static final long LAPIC_ADDRESS = 0xfee0_0000L;
    /**
     * KVM's identity-map page (Intel without unrestricted guest); QEMU's choice, kept out of RAM. The
     * three-page TSS follows it.
     */
    public static final long KVM_IDENTITY_MAP = 0xfeff_c000L;
    /** KVM's three-page real-mode TSS, 0xfeffd000-0xfeffffff. */
    public static final long KVM_TSS = 0xfeff_d000L;
    /** RAM above the hole starts at 4 GiB. */
    public static final long HIGH_MEMORY_START = 4 * GIB;
    /** Bytes of the 64-bit MMIO window above RAM. */
    public static final long MMIO64_SIZE = 64 * GIB;

    /** The smallest machine: enough for the boot structures and the firmware tables. */
    public static final long MIN_RAM = 2 * MIB;

    /** The layout for {@code ramBytes} of RAM (a multiple of 4 KiB, at least 2 MiB). */
    public static MachineLayout layout(long ramBytes) {
        if (ramBytes < MIN_RAM || ramBytes % (4 * KIB) != 0) {
            throw new IllegalArgumentException(String.format(
                    "x86_64 RAM must be a multiple of 4 KiB and at least 2 MiB, not %d bytes", ramBytes));
        }
        List<AddressRange> ram = new ArrayList<>();
        long low = Math.min(ramBytes, HOLE_START);
        ram.add(new AddressRange(0, low));
        long ramEnd = low;
        if (ramBytes > low) {
            ram.add(new AddressRange(HIGH_MEMORY_START, ramBytes - low));
            ramEnd = HIGH_MEMORY_START + ramBytes - low;
        }
        long mmio64Base = alignUp(Math.max(ramEnd, HIGH_MEMORY_START), GIB);
        List<AddressRange> reserved = List.of(
                new AddressRange(ACPI_START, FIRMWARE_END - ACPI_START),
                PCI_ECAM,
                new AddressRange(ACPI_GED_ADDRESS, 4 * KIB),
                new AddressRange(IOAPIC_ADDRESS, 4 * KIB),
                new AddressRange(LAPIC_ADDRESS, 4 * KIB),
                new AddressRange(KVM_IDENTITY_MAP, 4 * 4 * KIB));
        return new MachineLayout(ram, MMIO32, new AddressRange(mmio64Base, MMIO64_SIZE), PCI_ECAM, reserved);
    }

    /** The end of RAM below the 32-bit hole, where the kernel, the initramfs and the boot structures go. */
    public static long lowRamEnd(MachineLayout layout) {
        AddressRange first = layout.ram().getFirst();
        if (first.base() != 0) {
            throw new IllegalArgumentException("x86_64 RAM must start at address 0, not " + first);
        }
        return first.end();
    }

    static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
