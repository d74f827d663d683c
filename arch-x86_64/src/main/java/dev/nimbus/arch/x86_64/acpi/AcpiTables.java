package dev.nimbus.arch.x86_64.acpi;

import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.nimbus.arch.x86_64.acpi.Aml.*;

/**
 * The ACPI tables of a hardware-reduced x86-64 machine, laid out from a base address so that every
 * pointer between them is the real guest address: RSDP (at the base) → XSDT → FADT (→ DSDT), MADT and,
 * when the machine has PCI, MCFG.
 * <ul>
 *   <li>FADT (revision 6): {@code HW_REDUCED_ACPI}, no SCI, no PM timer; the sleep control/status and
 *       reset registers are the {@link PlatformDevice.AcpiPowerControl} ports, so Linux powers off by
 *       writing {@code _S5}'s sleep type with SLP_EN and reboots by writing the reset value.</li>
 *   <li>DSDT: a processor device ({@code ACPI0007}) per vCPU, the platform devices with their ports and
 *       interrupts, {@code _S5}, the PCI host bridge when there is one, and a generic event device
 *       ({@code ACPI0013}) with the power button ({@code PNP0C0C}) when the machine has one.</li>
 *   <li>MADT: a local APIC per vCPU (APIC id = processor UID = vCPU index), the IOAPIC (id = vCPU count,
 *       GSI base 0), and LINT1 as NMI on all processors. With the hypervisor's IOAPIC (no
 *       {@link PlatformDevice.Ioapic} among the devices) the machine also has KVM's PIC pair and PIT: the
 *       {@code PCAT_COMPAT} flag is set and ISA IRQ 0 is overridden to GSI 2, where the PIT arrives. With the
 *       VMM's IOAPIC (the split irqchip) there is neither, so neither is said. Linux needs neither on this
 *       hardware-reduced machine: {@code acpi_generic_reduced_hw_init} gives it no legacy PIC
 *       ({@code nr_legacy_irqs()} is 0, so {@code check_timer} is skipped) and no PIT timer set-up.</li>
 *   <li>MCFG: the ECAM window for PCI segment 0.</li>
 * </ul>
 */
public final class AcpiTables {
    private AcpiTables() {}

    public static final String OEM_ID = "NIMBUS";
    public static final String OEM_TABLE_ID = "NIMBUSVM";
    public static final String CREATOR_ID = "NMBS";
    public static final int HEADER_SIZE = 36;
    public static final int RSDP_SIZE = 36;
    public static final int FADT_SIZE = 276;

    /** FADT flags. */
    static final int FADT_WBINVD = 1;
    static final int FADT_POWER_BUTTON = 1 << 4;
    static final int FADT_SLEEP_BUTTON = 1 << 5;
    static final int FADT_RESET_REG_SUP = 1 << 10;
    public static final int FADT_HW_REDUCED_ACPI = 1 << 20;
    /** FADT IA-PC boot architecture flags. */
    static final int BOOT_ARCH_8042 = 1 << 1;
    static final int BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;
    static final int BOOT_ARCH_CMOS_RTC_NOT_PRESENT = 1 << 5;

    /** The notification value of a button press (ACPI 6.5 section 5.6.6, "Device Object Notification Values"). */
    static final int POWER_BUTTON_PRESSED = 0x80;

    /** A table at its guest address. */
    public record Placed(String signature, long address, byte[] bytes) {
        public Placed {
            bytes = bytes.clone();
        }

        @Override
        public byte[] bytes() {
            return bytes.clone();
        }
    }

    /**
     * The PCI host bridge, for machines that have one: ECAM for buses 0..{@code lastBus} at
     * {@code ecam.base()}, and the windows its BARs are placed in.
     */
    public record Pci(AddressRange ecam, int lastBus, AddressRange mmio32, AddressRange mmio64) {}

    /**
     * Builds the tables from {@code base} (the RSDP's address) to below {@code limit}.
     *
     * @throws IllegalStateException when they do not fit
     */
    public static List<Placed> build(int vcpus, List<PlatformDevice> devices, Optional<Pci> pci, long base, long limit) {
        if (vcpus < 1 || vcpus > 254) {
            throw new IllegalArgumentException("the x86_64 ACPI tables describe 1 to 254 vCPUs, not " + vcpus);
        }
        Optional<PlatformDevice.AcpiPowerControl> power = devices.stream()
                .filter(PlatformDevice.AcpiPowerControl.class::isInstance).map(PlatformDevice.AcpiPowerControl.class::cast)
                .findFirst();
        long next = base + 64; // the RSDP's 36 bytes, rounded up
        byte[] dsdt = dsdt(vcpus, devices, pci, power.isPresent());
        long dsdtAt = next;
        next = align16(next + dsdt.length);
        byte[] fadt = fadt(dsdtAt, devices, power);
        long fadtAt = next;
        next = align16(next + fadt.length);
        byte[] madt = madt(vcpus, devices);
        long madtAt = next;
        next = align16(next + madt.length);
        List<Placed> tables = new ArrayList<>(List.of(new Placed("DSDT", dsdtAt, dsdt), new Placed("FACP", fadtAt, fadt),
                new Placed("APIC", madtAt, madt)));
        if (pci.isPresent()) {
            byte[] mcfg = mcfg(pci.get());
            tables.add(new Placed("MCFG", next, mcfg));
            next = align16(next + mcfg.length);
        }
        List<Long> xsdtEntries = tables.stream().filter(t -> !t.signature().equals("DSDT")).map(Placed::address).toList();
        byte[] xsdt = xsdt(xsdtEntries);
        long xsdtAt = next;
        next += xsdt.length;
        if (next > limit) {
            throw new IllegalStateException(String.format("the ACPI tables need 0x%x bytes from 0x%x, past 0x%x",
                    next - base, base, limit));
        }
        List<Placed> all = new ArrayList<>();
        all.add(new Placed("RSDP", base, rsdp(xsdtAt)));
        all.add(new Placed("XSDT", xsdtAt, xsdt));
        all.addAll(tables);
        return List.copyOf(all);
    }

    // ---- RSDP, XSDT ----

    static byte[] rsdp(long xsdt) {
        ByteBuffer b = le(RSDP_SIZE);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put(ascii(OEM_ID, 6)).put((byte) 2)
                .putInt(0).putInt(RSDP_SIZE).putLong(xsdt).put((byte) 0);
        byte[] a = b.array();
        a[8] = checksum(a, 0, 20);     // ACPI 1.0 checksum over the first 20 bytes
        a[32] = checksum(a, 0, RSDP_SIZE); // extended checksum over all of it
        return a;
    }

    static byte[] xsdt(List<Long> entries) {
        ByteBuffer b = table("XSDT", HEADER_SIZE + 8 * entries.size(), 1);
        entries.forEach(b::putLong);
        return finish(b);
    }

    // ---- FADT ----

    static byte[] fadt(long dsdt, List<PlatformDevice> devices, Optional<PlatformDevice.AcpiPowerControl> power) {
        ByteBuffer b = table("FACP", FADT_SIZE, 6);
        b.putInt(40, (int) dsdt);
        int bootArch = BOOT_ARCH_VGA_NOT_PRESENT;
        if (devices.stream().anyMatch(PlatformDevice.I8042.class::isInstance)) {
            bootArch |= BOOT_ARCH_8042;
        }
        if (devices.stream().noneMatch(PlatformDevice.RealTimeClock.class::isInstance)) {
            bootArch |= BOOT_ARCH_CMOS_RTC_NOT_PRESENT;
        }
        b.putShort(109, (short) bootArch);
        int flags = FADT_WBINVD | FADT_POWER_BUTTON | FADT_SLEEP_BUTTON | FADT_HW_REDUCED_ACPI;
        if (power.isPresent()) {
            long port = power.get().base();
            flags |= FADT_RESET_REG_SUP;
            ioRegister(b, 116, port + PlatformDevice.AcpiPowerControl.RESET_OFFSET);
            b.put(128, (byte) PlatformDevice.AcpiPowerControl.RESET_VALUE);
            ioRegister(b, 244, port + PlatformDevice.AcpiPowerControl.SLEEP_CONTROL_OFFSET);
            ioRegister(b, 256, port + PlatformDevice.AcpiPowerControl.SLEEP_STATUS_OFFSET);
        }
        b.putInt(112, flags);
        b.put(131, (byte) 3); // FADT minor version: ACPI 6.3
        b.putLong(140, dsdt);
        return finish(b);
    }

    /** A Generic Address Structure for one byte in system I/O space. */
    private static void ioRegister(ByteBuffer b, int offset, long port) {
        b.put(offset, (byte) 1).put(offset + 1, (byte) 8).put(offset + 2, (byte) 0).put(offset + 3, (byte) 1)
                .putLong(offset + 4, port);
    }

    // ---- MADT ----

    static byte[] madt(int vcpus, List<PlatformDevice> devices) {
        Optional<PlatformDevice.Ioapic> vmmIoapic = devices.stream().filter(PlatformDevice.Ioapic.class::isInstance)
                .map(PlatformDevice.Ioapic.class::cast).findFirst();
        boolean legacy = vmmIoapic.isEmpty(); // the hypervisor's irqchip: PIC pair and PIT too
        int length = HEADER_SIZE + 8 + 8 * vcpus + 12 + (legacy ? 10 : 0) + 6;
        ByteBuffer b = table("APIC", length, 5);
        b.position(HEADER_SIZE);
        b.putInt((int) X86Layout.LAPIC_ADDRESS).putInt(legacy ? 1 : 0); // PCAT_COMPAT: the machine has 8259s too
        for (int i = 0; i < vcpus; i++) {
            b.put((byte) 0).put((byte) 8).put((byte) i).put((byte) i).putInt(1); // processor local APIC, enabled
        }
        int ioapicId = vmmIoapic.map(PlatformDevice.Ioapic::id).orElse(ioapicId(vcpus));
        long ioapicBase = vmmIoapic.map(PlatformDevice.Ioapic::base).orElse(X86Layout.IOAPIC_ADDRESS);
        b.put((byte) 1).put((byte) 12).put((byte) ioapicId).put((byte) 0).putInt((int) ioapicBase).putInt(0);
        if (legacy) {
            b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) 0).putInt(2).putShort((short) 0); // ISA IRQ 0 -> GSI 2
        }
        b.put((byte) 4).put((byte) 6).put((byte) 0xff).putShort((short) 0).put((byte) 1); // LINT1 is NMI on all CPUs
        return finish(b);
    }

    /** The IOAPIC's id: the first APIC id after the vCPUs'. */
    public static int ioapicId(int vcpus) {
        return vcpus;
    }

    // ---- MCFG ----

    static byte[] mcfg(Pci pci) {
        ByteBuffer b = table("MCFG", HEADER_SIZE + 8 + 16, 1);
        b.position(HEADER_SIZE + 8);
        b.putLong(pci.ecam().base()).putShort((short) 0).put((byte) 0).put((byte) pci.lastBus()).putInt(0);
        return finish(b);
    }

    // ---- DSDT ----

    static byte[] dsdt(int vcpus, List<PlatformDevice> devices, Optional<Pci> pci, boolean s5) {
        List<byte[]> sb = new ArrayList<>();
        for (int i = 0; i < vcpus; i++) {
            sb.add(device(String.format("C%03X", i),
                    name("_HID", string("ACPI0007")),
                    name("_UID", integer(i)),
                    method("_STA", 0, false, returnValue(integer(0x0f)))));
        }
        List<byte[]> motherboard = new ArrayList<>();
        int serials = 0;
        for (PlatformDevice d : devices) {
            switch (d) {
                case PlatformDevice.SerialPort s -> {
                    serials++;
                    byte[] where = s.model() == PlatformDevice.SerialPort.Model.UART_16550_PIO
                            ? io((int) s.base(), 8) : memory32Fixed(true, s.base(), 0x1000);
                    sb.add(device("COM" + serials, name("_HID", eisaId("PNP0501")), name("_UID", integer(serials)),
                            name("_CRS", resourceTemplate(where, irq(s.irq())))));
                }
                case PlatformDevice.RealTimeClock r -> {
                    if (r.model() != PlatformDevice.RealTimeClock.Model.CMOS) {
                        throw new IllegalArgumentException("an x86_64 machine has a CMOS RTC, not " + r.model());
                    }
                    sb.add(device("RTC", name("_HID", eisaId("PNP0B00")),
                            name("_CRS", resourceTemplate(io((int) r.base(), 2), irq(r.irq())))));
                }
                case PlatformDevice.I8042 k -> sb.add(device("PS2K", name("_HID", eisaId("PNP0303")),
                        name("_CRS", resourceTemplate(io((int) k.base(), 1),
                                io((int) k.base() + PlatformDevice.I8042.COMMAND_OFFSET, 1), irq(k.irq())))));
                case PlatformDevice.DebugPort p -> motherboard.add(io((int) p.port(), 1));
                case PlatformDevice.Ioapic i -> {
                    // the MADT describes it; its window is reserved in the e820 map like the in-kernel one's
                }
                case PlatformDevice.AcpiPowerControl p -> motherboard.add(io((int) p.base(), PlatformDevice.AcpiPowerControl.SIZE));
                case PlatformDevice.PciHost h -> motherboard.add(memory32Fixed(false, h.ecam().base(), h.ecam().size()));
                case PlatformDevice.AcpiGenericEventDevice g -> {
                    sb.addAll(genericEventDevice(g));
                    motherboard.add(memory32Fixed(true, g.base(), PlatformDevice.AcpiGenericEventDevice.SIZE));
                }
            }
        }
        if (!motherboard.isEmpty()) {
            // ports the devices above do not claim: a motherboard resource device keeps the guest off them
            sb.add(device("MBRS", name("_HID", eisaId("PNP0C02")), name("_UID", integer(0)),
                    name("_CRS", resourceTemplate(motherboard.toArray(byte[][]::new)))));
        }
        pci.ifPresent(p -> sb.add(pciHostBridge(p)));
        List<byte[]> body = new ArrayList<>();
        body.add(scope("\\_SB", sb.toArray(byte[][]::new)));
        if (s5) {
            body.add(name("\\_S5", packageOf(integer(PlatformDevice.AcpiPowerControl.S5_SLEEP_TYPE), integer(0))));
        }
        byte[] aml = concat(body.toArray(byte[][]::new));
        ByteBuffer b = table("DSDT", HEADER_SIZE + aml.length, 2);
        b.position(HEADER_SIZE);
        b.put(aml);
        return finish(b);
    }

    /**
     * The generic event device and the power button it notifies. Its {@code _EVT} (which Linux's GED driver
     * runs on each edge of the interrupt) reads the event register, which clears it, and passes a power
     * button press on as {@code Notify (PWRB, 0x80)}:
     * <pre>
     * Device (GED0) {
     *     Name (_HID, "ACPI0013")
     *     Name (_UID, Zero)
     *     Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { irq } })
     *     OperationRegion (EREG, SystemMemory, base, 4)
     *     Field (EREG, DWordAcc, NoLock, Preserve) { EVTS, 32 }
     *     Method (_EVT, 1, Serialized) {
     *         Local0 = EVTS
     *         If ((Local0 &amp; 0x08)) { Notify (\_SB.PWRB, 0x80) }
     *     }
     * }
     * Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) Name (_UID, Zero) }
     * </pre>
     */
    private static List<byte[]> genericEventDevice(PlatformDevice.AcpiGenericEventDevice g) {
        byte[] ged = device("GED0",
                name("_HID", string("ACPI0013")),
                name("_UID", integer(0)),
                name("_CRS", resourceTemplate(interrupt(false, false, g.irq()))),
                operationRegion("EREG", RegionSpace.SYSTEM_MEMORY, g.base(), PlatformDevice.AcpiGenericEventDevice.SIZE),
                field("EREG", Access.DWORD, "EVTS", 32),
                method("_EVT", 1, true,
                        store(ref("EVTS"), local0()),
                        ifThen(and(local0(), integer(PlatformDevice.AcpiGenericEventDevice.POWER_BUTTON)),
                                notifyObject("\\_SB.PWRB", POWER_BUTTON_PRESSED))));
        byte[] button = device("PWRB", name("_HID", eisaId("PNP0C0C")), name("_UID", integer(0)));
        return List.of(ged, button);
    }

    private static byte[] pciHostBridge(Pci p) {
        return device("PCI0",
                name("_HID", eisaId("PNP0A08")),
                name("_CID", eisaId("PNP0A03")),
                name("_ADR", integer(0)),
                name("_SEG", integer(0)),
                name("_UID", integer(0)),
                name("_BBN", integer(0)),
                name("_CRS", resourceTemplate(
                        wordBusNumber(0, p.lastBus()),
                        io(0xcf8, 8),
                        wordIo(0x0d00, 0xffff),
                        dwordMemory(p.mmio32().base(), p.mmio32().size()),
                        qwordMemory(p.mmio64().base(), p.mmio64().size()))));
    }

    private static byte[] irq(int irq) {
        return irq <= 15 ? irqNoFlags(irq) : interrupt(false, false, irq);
    }

    // ---- common ----

    private static ByteBuffer table(String signature, int length, int revision) {
        ByteBuffer b = le(length);
        b.put(ascii(signature, 4)).putInt(length).put((byte) revision).put((byte) 0)
                .put(ascii(OEM_ID, 6)).put(ascii(OEM_TABLE_ID, 8)).putInt(1)
                .put(ascii(CREATOR_ID, 4)).putInt(1);
        return b;
    }

    private static byte[] finish(ByteBuffer b) {
        byte[] a = b.array();
        a[9] = checksum(a, 0, a.length);
        return a;
    }

    /** The byte that makes {@code a[from, from+length)} sum to zero, given that it is itself zero now. */
    static byte checksum(byte[] a, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += a[i];
        }
        return (byte) -sum;
    }

    private static byte[] ascii(String s, int length) {
        byte[] out = new byte[length];
        byte[] in = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(in, 0, out, 0, Math.min(in.length, length));
        for (int i = in.length; i < length; i++) {
            out[i] = ' ';
        }
        return out;
    }

    private static ByteBuffer le(int length) {
        return ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long align16(long v) {
        return (v + 15) & ~15L;
    }
}
