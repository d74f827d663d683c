package dev.nimbus.arch.x86_64.acpi;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.arch.x86_64.Machines;
import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.FirmwareTables;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.nimbus.hypervisor.IrqChipConfig;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ACPI tables checked with ACPICA's own tools: {@code iasl -d} disassembles each without complaint,
 * the disassembly compiles back ({@code iasl -oa}) to the same bytes, the RSDP is what iasl builds from
 * the same fields, and {@code acpiexec} loads the set together and evaluates it. Pointers between tables
 * are followed in guest memory.
 */
class AcpiTablesTest {
    static final MachineLayout LAYOUT = Machines.PLATFORM.layout(X86Layout.GIB);
    static final List<PlatformDevice> DEVICES = Machines.PLATFORM.platformDevices(LAYOUT);
    static final AcpiTables.Pci PCI = new AcpiTables.Pci(LAYOUT.pciEcam(), 255, LAYOUT.mmio32(), LAYOUT.mmio64());

    @TempDir
    static Path dir;

    @BeforeAll
    static void tools() {
        HostTools.ensurePackages("acpica-tools");
    }

    private static List<AcpiTables.Placed> tables(int vcpus, boolean pci) {
        return AcpiTables.build(vcpus, DEVICES, pci ? Optional.of(PCI) : Optional.empty(), X86Layout.ACPI_START, X86Layout.ACPI_END);
    }

    private static Map<String, AcpiTables.Placed> bySignature(List<AcpiTables.Placed> tables) {
        Map<String, AcpiTables.Placed> m = new HashMap<>();
        tables.forEach(t -> m.put(t.signature(), t));
        return m;
    }

    /** Writes the tables as {@code <sig>.dat} into a fresh directory. */
    private static Path dump(List<AcpiTables.Placed> tables, String name) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        for (AcpiTables.Placed t : tables) {
            Files.write(d.resolve(t.signature().toLowerCase() + ".dat"), t.bytes());
        }
        return d;
    }

    private static void assertClean(String output) {
        assertThat(output).doesNotContainIgnoringCase("error").doesNotContainIgnoringCase("warning")
                .doesNotContainIgnoringCase("incorrect").doesNotContainIgnoringCase("invalid");
    }

    @Test
    void iaslDisassemblesEveryTableWithoutComplaint() throws Exception {
        for (boolean pci : new boolean[] {false, true}) {
            List<AcpiTables.Placed> tables = tables(4, pci);
            Path d = dump(tables, "disassemble-" + pci);
            for (AcpiTables.Placed t : tables) {
                if (t.signature().equals("RSDP")) {
                    continue; // iasl 20200925 reads no bare RSDP; see rsdpIsWhatIaslCompilesFromTheSameFields
                }
                String file = t.signature().toLowerCase();
                HostTools.Result r = HostTools.runAllowingFailure(d, List.of("iasl", "-d", file + ".dat"));
                assertThat(r.exit()).as(r.output()).isZero();
                assertClean(r.output());
                String dsl = Files.readString(d.resolve(file + ".dsl"));
                assertClean(dsl);
                assertThat(dsl).contains("Signature").contains("\"" + t.signature() + "\"");
            }
        }
    }

    @Test
    void disassembledTablesRecompileToTheSameBytes() throws Exception {
        List<AcpiTables.Placed> tables = tables(4, true);
        Path d = dump(tables, "roundtrip");
        for (AcpiTables.Placed t : tables) {
            if (t.signature().equals("RSDP")) {
                continue;
            }
            String file = t.signature().toLowerCase();
            HostTools.run(d, List.of("iasl", "-d", file + ".dat"));
            HostTools.Result r = HostTools.runAllowingFailure(d, List.of("iasl", "-oa", "-p", "re-" + file, file + ".dsl"));
            assertThat(r.exit()).as(r.output()).isZero();
            byte[] recompiled = Files.readAllBytes(d.resolve("re-" + file + ".aml"));
            // iasl writes its own checksum (over its own compiler id and version, bytes 28-35)
            assertThat(withoutCompilerFields(recompiled)).as(t.signature()).isEqualTo(withoutCompilerFields(t.bytes()));
        }
    }

    private static byte[] withoutCompilerFields(byte[] table) {
        byte[] b = table.clone();
        b[9] = 0;
        Arrays.fill(b, 28, 36, (byte) 0);
        return b;
    }

    @Test
    void rsdpIsWhatIaslCompilesFromTheSameFields() throws Exception {
        Map<String, AcpiTables.Placed> t = bySignature(tables(2, false));
        Path d = Files.createDirectories(dir.resolve("rsdp"));
        Files.writeString(d.resolve("rsdp.asl"), String.format("""
                [0008]                          Signature : "RSD PTR "
                [0001]                           Checksum : 00
                [0006]                             Oem ID : "NIMBUS"
                [0001]                           Revision : 02
                [0004]                       RSDT Address : 00000000
                [0004]                             Length : 00000024
                [0008]                       XSDT Address : %016X
                [0001]                  Extended Checksum : 00
                [0003]                           Reserved : 000000
                """, t.get("XSDT").address()));
        HostTools.Result r = HostTools.runAllowingFailure(d, List.of("iasl", "rsdp.asl"));
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(t.get("RSDP").bytes()).isEqualTo(Files.readAllBytes(d.resolve("rsdp.aml")));
    }

    @Test
    void acpiexecLoadsTheWholeSetAndEvaluatesIt() throws Exception {
        List<AcpiTables.Placed> tables = tables(4, true);
        Path d = dump(tables, "acpiexec");
        List<String> command = new ArrayList<>(List.of("acpiexec", "-b",
                "evaluate \\_S5_; evaluate \\_SB.COM1._CRS; evaluate \\_SB.C003._STA; namespace"));
        tables.stream().filter(t -> !t.signature().equals("RSDP")).forEach(t -> command.add(t.signature().toLowerCase() + ".dat"));
        HostTools.Result r = HostTools.runAllowingFailure(d, command);
        assertThat(r.exit()).as(r.output()).isZero();
        assertClean(r.output());
        assertThat(r.output()).contains("1 ACPI AML tables successfully acquired and loaded")
                .containsPattern("\\[Package\\] Contains 2 Elements:\\s+\\[Integer\\] = 0000000000000005")
                .contains("47 01 F8 03 F8 03 01 08 22 10 00 79 00") // IO 0x3f8/8, IRQ 4, end tag
                .containsPattern("Evaluation of \\\\_SB.C003._STA returned[^\\n]*\\n\\s+\\[Integer\\] = 000000000000000F")
                .contains("PCI0 Device").contains("PS2K Device").contains("RTC_ Device").contains("MBRS Device")
                .contains("GED0 Device").contains("PWRB Device").contains("EVTS RegionField").contains("EREG Region");
    }

    @Test
    void everyTableChecksumsToZero() {
        for (AcpiTables.Placed t : tables(8, true)) {
            byte[] b = t.bytes();
            int length = t.signature().equals("RSDP") ? 20 : b.length;
            assertThat(sum(b, length)).as(t.signature()).isZero();
            if (t.signature().equals("RSDP")) {
                assertThat(sum(b, b.length)).as("RSDP extended checksum").isZero();
            } else {
                assertThat(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(4)).isEqualTo(b.length);
            }
        }
    }

    private static int sum(byte[] b, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) {
            s += b[i];
        }
        return s & 0xff;
    }

    @Test
    void tablesInGuestMemoryPointAtEachOtherByAddress() throws Exception {
        MachineDescription machine = new MachineDescription(3, Machines.PLATFORM.layout(64 * X86Layout.MIB), DEVICES);
        Path kernel = dir.resolve("kernel-" + System.nanoTime());
        Files.write(kernel, dev.nimbus.arch.x86_64.boot.SyntheticBzImage.bytes());
        try (GuestMemory memory = Machines.memory(machine)) {
            Machines.PLATFORM.loadKernel(memory, new BootImages(kernel, Optional.empty(), ""), machine);
            assertThat(ascii(memory, X86Layout.ACPI_START, 8)).isEqualTo("RSD PTR ");
            long xsdt = memory.readLong(X86Layout.ACPI_START + 24);
            assertThat(ascii(memory, xsdt, 4)).isEqualTo("XSDT");
            int entries = (memory.readInt(xsdt + 4) - AcpiTables.HEADER_SIZE) / 8;
            List<String> found = new ArrayList<>();
            long fadt = 0;
            for (int i = 0; i < entries; i++) {
                long table = memory.readLong(xsdt + AcpiTables.HEADER_SIZE + 8L * i);
                String sig = ascii(memory, table, 4);
                found.add(sig);
                byte[] bytes = new byte[memory.readInt(table + 4)];
                memory.read(table, bytes);
                assertThat(sum(bytes, bytes.length)).as(sig + " checksum in memory").isZero();
                if (sig.equals("FACP")) {
                    fadt = table;
                }
            }
            assertThat(found).containsExactly("FACP", "APIC", "MCFG"); // the platform's devices include the PCI host
            long dsdt = memory.readLong(fadt + 140);
            assertThat(ascii(memory, dsdt, 4)).isEqualTo("DSDT");
            assertThat(memory.readInt(fadt + 40) & 0xffffffffL).isEqualTo(dsdt);
        }
    }

    private static String ascii(GuestMemory memory, long address, int length) throws Exception {
        byte[] b = new byte[length];
        memory.read(address, b);
        return new String(b, StandardCharsets.US_ASCII);
    }

    @Test
    void madtListsALocalApicPerVcpuTheIoapicAndTheTimerOverride() throws Exception {
        Path d = dump(tables(3, false), "madt");
        HostTools.run(d, List.of("iasl", "-d", "apic.dat"));
        String dsl = Files.readString(d.resolve("apic.dsl"));
        assertThat(dsl).containsPattern("Local Apic Address : FEE00000");
        for (int i = 0; i < 3; i++) {
            assertThat(dsl).containsPattern("Processor ID : 0" + i + "\\s+\\[[^\\]]+\\]\\s+Local Apic ID : 0" + i);
        }
        assertThat(dsl.split("Subtable Type : 00 \\[Processor Local APIC\\]", -1)).hasSize(4);
        assertThat(dsl).containsPattern("I/O Apic ID : 03").containsPattern("Address : FEC00000")
                .containsPattern("Source : 00\\s+\\[[^\\]]+\\]\\s+Interrupt : 00000002")
                .containsPattern("Interrupt Input LINT : 01");
    }

    @Test
    void madtWithTheVmmsIoapicHasNoPicAndNoTimerOverride() throws Exception {
        List<PlatformDevice> split = Machines.PLATFORM.platformDevices(LAYOUT,
                new IrqChipConfig.X86Split(X86Layout.KVM_TSS, X86Layout.KVM_IDENTITY_MAP, 24), 2);
        Path d = dump(AcpiTables.build(2, split, Optional.empty(), X86Layout.ACPI_START, X86Layout.ACPI_END), "madt-split");
        HostTools.run(d, List.of("iasl", "-d", "apic.dat"));
        String dsl = Files.readString(d.resolve("apic.dsl"));
        assertThat(dsl).containsPattern("PC-AT Compatibility : 0")
                .containsPattern("I/O Apic ID : 02").containsPattern("Address : FEC00000")
                .doesNotContain("Interrupt Source Override")
                .containsPattern("Interrupt Input LINT : 01");
        Path legacy = dump(tables(2, false), "madt-legacy");
        HostTools.run(legacy, List.of("iasl", "-d", "apic.dat"));
        assertThat(Files.readString(legacy.resolve("apic.dsl"))).containsPattern("PC-AT Compatibility : 1")
                .contains("Interrupt Source Override");
    }

    @Test
    void fadtIsHardwareReducedWithSleepAndResetOnThePowerPorts() throws Exception {
        Path d = dump(tables(1, false), "fadt");
        HostTools.run(d, List.of("iasl", "-d", "facp.dat"));
        String dsl = Files.readString(d.resolve("facp.dsl"));
        assertThat(dsl).containsPattern("Hardware Reduced \\(V5\\) : 1")
                .containsPattern("Reset Register Supported \\(V2\\) : 1")
                .containsPattern("8042 Present on ports 60/64 \\(V2\\) : 1")
                .containsPattern("Value to cause reset : 01")
                .containsPattern("Reset Register : \\[Generic Address Structure\\][^\\n]*\\n[^\\n]*Space ID : 01 \\[SystemIO\\]\\n(?:[^\\n]*\\n){3}[^\\n]*Address : 0000000000000602")
                .containsPattern("Sleep Control Register : \\[Generic Address Structure\\][^\\n]*\\n[^\\n]*Space ID : 01 \\[SystemIO\\]\\n(?:[^\\n]*\\n){3}[^\\n]*Address : 0000000000000600")
                .containsPattern("Sleep Status Register : \\[Generic Address Structure\\][^\\n]*\\n[^\\n]*Space ID : 01 \\[SystemIO\\]\\n(?:[^\\n]*\\n){3}[^\\n]*Address : 0000000000000601");
    }

    @Test
    void dsdtDescribesThePlatformDevicesWithTheirPortsAndIrqs() throws Exception {
        Path d = dump(tables(2, false), "dsdt");
        HostTools.run(d, List.of("iasl", "-d", "dsdt.dat"));
        String dsl = Files.readString(d.resolve("dsdt.dsl"));
        assertThat(dsl).containsPattern("Device \\(COM1\\)\\s+\\{\\s+Name \\(_HID, EisaId \\(\"PNP0501\"\\)")
                .containsPattern("0x03F8,\\s+// Range Minimum[\\s\\S]*?0x08,\\s+// Length[\\s\\S]*?IRQNoFlags \\(\\)\\s+\\{4\\}")
                .containsPattern("Device \\(RTC\\)\\s+\\{\\s+Name \\(_HID, EisaId \\(\"PNP0B00\"\\)[\\s\\S]*?0x0070,[\\s\\S]*?\\{8\\}")
                .containsPattern("Device \\(PS2K\\)[\\s\\S]*?0x0060,[\\s\\S]*?0x0064,[\\s\\S]*?\\{1\\}")
                .containsPattern("Device \\(MBRS\\)[\\s\\S]*?0x0080,[\\s\\S]*?0x0600,[\\s\\S]*?0x04,\\s+// Length")
                .containsPattern("Device \\(C001\\)\\s+\\{\\s+Name \\(_HID, \"ACPI0007\"")
                .containsPattern("Name \\(\\\\_S5, Package \\(0x02\\)[^{]*\\{\\s+0x05,")
                .doesNotContain("PCI0");
    }

    @Test
    void dsdtHasAGenericEventDeviceWhoseEvtNotifiesThePowerButton() throws Exception {
        Path d = dump(tables(1, false), "ged");
        HostTools.run(d, List.of("iasl", "-d", "dsdt.dat"));
        String dsl = Files.readString(d.resolve("dsdt.dsl"));
        assertThat(dsl).containsPattern("Device \\(GED0\\)\\s+\\{\\s+Name \\(_HID, \"ACPI0013\"")
                .containsPattern("Interrupt \\(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \\)\\s+\\{\\s+0x00000017,")
                .contains("OperationRegion (EREG, SystemMemory, 0xFEB00000, 0x04)")
                .containsPattern("Field \\(EREG, DWordAcc, NoLock, Preserve\\)\\s+\\{\\s+EVTS,\\s+32\\s+\\}")
                .containsPattern("Method \\(_EVT, 1, Serialized\\)[^{]*\\{\\s+Local0 = EVTS[^\\n]*\\n\\s+If \\(\\(Local0 & 0x08\\)\\)\\s+\\{\\s+Notify \\(\\\\_SB.PWRB, 0x80\\)")
                .containsPattern("Device \\(PWRB\\)\\s+\\{\\s+Name \\(_HID, EisaId \\(\"PNP0C0C\"\\)")
                .containsPattern("Device \\(MBRS\\)[\\s\\S]*?Memory32Fixed \\(ReadWrite,\\s+0xFEB00000,[^\\n]*\\n\\s+0x00000004,");
    }

    @Test
    void acpiexecRunsEvtToANotifyOfPwrbOnlyWhenThePowerButtonBitIsSet() throws Exception {
        List<AcpiTables.Placed> tables = tables(1, false);
        Path d = dump(tables, "evt");
        Files.writeString(d.resolve("pressed.txt"), "\\_SB.GED0.EVTS 8\n");   // the register as the device shows it after a press
        Files.writeString(d.resolve("other.txt"), "\\_SB.GED0.EVTS 4\n");     // another event bit only
        for (String init : List.of("pressed.txt", "other.txt")) {
            List<String> command = new ArrayList<>(List.of("acpiexec", "-fi", init, "-b", "evaluate \\_SB.GED0._EVT 23"));
            tables.stream().filter(t -> !t.signature().equals("RSDP")).forEach(t -> command.add(t.signature().toLowerCase() + ".dat"));
            HostTools.Result r = HostTools.runAllowingFailure(d, command);
            assertThat(r.exit()).as(r.output()).isZero();
            assertClean(r.output());
            assertThat(r.output()).contains("Evaluating \\_SB.GED0._EVT");
            if (init.equals("pressed.txt")) {
                assertThat(r.output()).containsPattern("Received a Device Notify on \\[PWRB\\][^\\n]*Value 0x80");
            } else {
                assertThat(r.output()).doesNotContain("Notify");
            }
        }
    }

    @Test
    void mcfgAndThePciHostBridgeComeOnlyWithPci() throws Exception {
        assertThat(bySignature(tables(1, false))).doesNotContainKey("MCFG");
        Map<String, AcpiTables.Placed> t = bySignature(tables(1, true));
        Path d = dump(List.of(t.get("MCFG")), "mcfg");
        HostTools.run(d, List.of("iasl", "-d", "mcfg.dat"));
        assertThat(Files.readString(d.resolve("mcfg.dsl"))).containsPattern("Base Address : 00000000E0000000")
                .containsPattern("Start Bus Number : 00").containsPattern("End Bus Number : FF");
    }

    @Test
    void tablesFor254VcpusFitTheirArea() {
        List<AcpiTables.Placed> tables = tables(254, true);
        AcpiTables.Placed last = tables.stream().max(java.util.Comparator.comparingLong(AcpiTables.Placed::address)).orElseThrow();
        assertThat(last.address() + last.bytes().length).isLessThanOrEqualTo(X86Layout.ACPI_END);
    }

    @Test
    void firmwareTablesAreTheBytesLoadKernelWrites() throws Exception {
        MachineDescription machine = new MachineDescription(2, Machines.PLATFORM.layout(64 * X86Layout.MIB), DEVICES);
        FirmwareTables tables = Machines.PLATFORM.firmwareTables(machine, "");
        assertThat(tables.tables()).extracting(FirmwareTables.Table::name).containsExactly("RSDP", "XSDT", "DSDT", "FACP", "APIC", "MCFG");
        Path kernel = dir.resolve("kernel-fw");
        Files.write(kernel, dev.nimbus.arch.x86_64.boot.SyntheticBzImage.bytes());
        PlatformDevice.PciHost host = DEVICES.stream().filter(PlatformDevice.PciHost.class::isInstance)
                .map(PlatformDevice.PciHost.class::cast).findFirst().orElseThrow();
        MachineLayout layout = machine.layout();
        List<AcpiTables.Placed> placed = AcpiTables.build(2, DEVICES,
                Optional.of(new AcpiTables.Pci(host.ecam(), host.lastBus(), layout.mmio32(), layout.mmio64())),
                X86Layout.ACPI_START, X86Layout.ACPI_END);
        try (GuestMemory memory = Machines.memory(machine)) {
            Machines.PLATFORM.loadKernel(memory, new BootImages(kernel, Optional.empty(), ""), machine);
            for (int i = 0; i < placed.size(); i++) {
                byte[] inMemory = new byte[placed.get(i).bytes().length];
                memory.read(placed.get(i).address(), inMemory);
                assertThat(inMemory).as(placed.get(i).signature()).isEqualTo(tables.tables().get(i).bytes());
            }
        }
    }
}
