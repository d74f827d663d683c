package dev.nimbus.arch.x86_64.smbios;

import dev.nimbus.hypervisor.arch.SystemIdentity;
import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The SMBIOS tables read back by {@code dmidecode}, the tool a guest's administrator uses: built at address
 * 0 they are exactly the file {@code dmidecode --dump-bin} writes (entry point first, its table address
 * rewritten to 0x20, the table there), which {@code dmidecode --from-dump} reads.
 */
class SmbiosTest {
    private static final UUID ID = UUID.fromString("4c4c4544-0051-3710-8057-b5c04f4b4e31");
    private static final SystemIdentity CUSTOMER = new SystemIdentity("Example Cloud", "example-vm", Optional.of("2.1"),
            Optional.of("SN-0042"), Optional.of(ID), Optional.of("compute"), Optional.of("m5.large"),
            List.of("io.systemd.credential:hostname=guest-7", "cloud-init:ds=nocloud"));

    @BeforeAll
    static void tools() {
        HostTools.ensurePackages("dmidecode");
    }

    private static String dmidecode(Path dir, SystemIdentity id, String... args) throws Exception {
        Path dump = Files.write(dir.resolve("smbios.bin"), Smbios.build(0, id));
        List<String> command = new java.util.ArrayList<>(List.of("dmidecode", "--from-dump", dump.toString()));
        command.addAll(List.of(args));
        HostTools.Result r = HostTools.runSeparately(command);
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.err()).as("dmidecode's complaints").isEmpty();
        return r.out();
    }

    @Test
    void dmidecodeReadsTheSystemAsConfigured(@TempDir Path dir) throws Exception {
        String out = dmidecode(dir, CUSTOMER);
        assertThat(out).contains("SMBIOS 3.0.0 present.")
                .contains("Vendor: Nimbus", "System is a virtual machine", "ACPI is supported", "PCI is supported")
                .contains("System Information", "Manufacturer: Example Cloud", "Product Name: example-vm", "Version: 2.1",
                        "Serial Number: SN-0042", "UUID: " + ID, "Wake-up Type: Power Switch", "SKU Number: m5.large",
                        "Family: compute")
                .contains("OEM Strings", "String 1: io.systemd.credential:hostname=guest-7", "String 2: cloud-init:ds=nocloud")
                .contains("End Of Table")
                .doesNotContainIgnoringCase("invalid").doesNotContainIgnoringCase("wrong").doesNotContainIgnoringCase("checksum")
                .doesNotContain("<BAD INDEX>").doesNotContain("<OUT OF SPEC>");
        assertThat(dmidecode(dir, CUSTOMER, "-s", "system-uuid").strip()).isEqualTo(ID.toString());
        assertThat(dmidecode(dir, CUSTOMER, "-s", "system-serial-number").strip()).isEqualTo("SN-0042");
    }

    @Test
    void withoutConfigurationItIsANimbusMachineWithNoOemStrings(@TempDir Path dir) throws Exception {
        String out = dmidecode(dir, SystemIdentity.NIMBUS);
        // a UUID of all zeros is SMBIOS's "no ID", which dmidecode words "Not Settable"
        assertThat(out).contains("Manufacturer: Nimbus", "Product Name: nimbus", "Serial Number: Not Specified", "UUID: Not Settable")
                .doesNotContain("OEM Strings").doesNotContain("<BAD INDEX>");
    }

    @Test
    void theEntryPointPointsAtTheTableAndSumsToZero() {
        byte[] b = Smbios.build(0xf8000, CUSTOMER);
        assertThat(new String(b, 0, 5, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("_SM3_");
        int sum = 0;
        for (int i = 0; i < Smbios.ENTRY_POINT_SIZE; i++) {
            sum += b[i];
        }
        assertThat(sum & 0xff).isZero();
        java.nio.ByteBuffer ep = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(ep.getLong(0x10)).isEqualTo(0xf8000 + Smbios.TABLE_OFFSET);
        assertThat(ep.getInt(0x0c)).isEqualTo(b.length - Smbios.TABLE_OFFSET);
    }

    @Test
    void aUuidsFirstThreeFieldsAreLittleEndian() {
        assertThat(HexFormat.of().formatHex(Smbios.uuid(ID))).isEqualTo("44454c4c" + "5100" + "1037" + "8057b5c04f4b4e31");
    }

    @Test
    void stringsTheTablesCannotHoldAreNamed() {
        assertThat(SystemIdentity.textProblem("ok")).isNull();
        assertThat(SystemIdentity.textProblem("")).isEqualTo("is empty");
        assertThat(SystemIdentity.textProblem("caf\u00e9")).isEqualTo("has a character other than printable ASCII (U+00E9 at 3)");
        assertThatThrownBy(() -> Smbios.build(0, new SystemIdentity("", "p", Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), List.of()))).isInstanceOf(IllegalArgumentException.class);
    }
}
