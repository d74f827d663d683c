package dev.nimbus.arch.x86_64.acpi;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** AML encodings by the ACPI 6.5 specification, chapter 20 (byte values written out as the spec gives them). */
class AmlTest {
    private static String hex(byte[] b) {
        return HexFormat.ofDelimiter(" ").formatHex(b);
    }

    @Test
    void pkgLengthBelow64IsOneByteCountingItself() {
        assertThat(hex(Aml.pkgLength(10))).isEqualTo("0b");
        assertThat(hex(Aml.pkgLength(62))).isEqualTo("3f");
    }

    @Test
    void pkgLengthFrom64TakesALeadByteWithTheLowNibbleThenTheRest() {
        // 63 bytes of body + 2 of PkgLength = 65 = 0x41: lead 0x40 | 0x1, then 0x41 >> 4
        assertThat(hex(Aml.pkgLength(63))).isEqualTo("41 04");
        // 4093 + 2 = 4095, the largest two-byte length
        assertThat(hex(Aml.pkgLength(4093))).isEqualTo("4f ff");
        // 4094 + 3 = 4097 = 0x1001: three bytes
        assertThat(hex(Aml.pkgLength(4094))).isEqualTo("81 00 01");
        // 2^20 - 4 + 3 = 2^20 - 1, the largest three-byte length; one more needs four: 2^20 + 1
        assertThat(hex(Aml.pkgLength((1 << 20) - 4))).isEqualTo("8f ff ff");
        assertThat(hex(Aml.pkgLength((1 << 20) - 3))).isEqualTo("c1 00 00 01");
    }

    @Test
    void eisaIdIsCompressedIntoADword() {
        // EisaId ("PNP0501") is 0x0105D041: 'P','N','P' in 5 bits each, then the product number
        assertThat(hex(Aml.eisaId("PNP0501"))).isEqualTo("0c 41 d0 05 01");
        assertThat(hex(Aml.eisaId("PNP0A08"))).isEqualTo("0c 41 d0 0a 08");
    }

    @Test
    void integersTakeTheirShortestEncoding() {
        assertThat(hex(Aml.integer(0))).isEqualTo("00");
        assertThat(hex(Aml.integer(1))).isEqualTo("01");
        assertThat(hex(Aml.integer(0xff))).isEqualTo("0a ff");
        assertThat(hex(Aml.integer(0x3f8))).isEqualTo("0b f8 03");
        assertThat(hex(Aml.integer(0xfec00000L))).isEqualTo("0c 00 00 c0 fe");
        assertThat(hex(Aml.integer(0x1_0000_0000L))).isEqualTo("0e 00 00 00 00 01 00 00 00");
    }

    @Test
    void namePathsArePaddedAndPrefixed() {
        assertThat(hex(Aml.nameString("RTC"))).isEqualTo("52 54 43 5f");          // RTC_
        assertThat(hex(Aml.nameString("\\_SB"))).isEqualTo("5c 5f 53 42 5f");    // \_SB_
        assertThat(hex(Aml.nameString("\\_SB.PCI0"))).isEqualTo("5c 2e 5f 53 42 5f 50 43 49 30"); // DualNamePrefix
        assertThat(hex(Aml.nameString("_SB.PCI0.ISA"))).startsWith("2f 03 5f 53 42 5f"); // MultiNamePrefix, 3 segments
        assertThat(hex(Aml.nameString("^^COM1"))).isEqualTo("5e 5e 43 4f 4d 31");
        assertThat(hex(Aml.nameString("\\"))).isEqualTo("5c 00");                 // the root: NullName
    }

    @Test
    void badNamesAreRefused() {
        assertThatThrownBy(() -> Aml.nameString("1ABC")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bad AML name segment '1ABC' in 1ABC");
        assertThatThrownBy(() -> Aml.nameString("TOOLONG")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Aml.nameString("low")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void methodEncodesArgumentCountAndSerialization() {
        // Method (_STA, 0, NotSerialized) { Return (0x0F) }: 14 PkgLength "_STA" flags A4 0A 0F
        assertThat(hex(Aml.method("_STA", 0, false, Aml.returnValue(Aml.integer(0x0f))))).isEqualTo("14 09 5f 53 54 41 00 a4 0a 0f");
        assertThat(Aml.method("_DSM", 4, true)[6]).isEqualTo((byte) 0x0c);
    }

    @Test
    void operationRegionIsAnExtendedOpWithSpaceOffsetAndLength() {
        // OperationRegion (EREG, SystemMemory, 0xFEB00000, 4): 5B 80 "EREG" 00 DWordConst ByteConst
        assertThat(hex(Aml.operationRegion("EREG", Aml.RegionSpace.SYSTEM_MEMORY, 0xfeb0_0000L, 4)))
                .isEqualTo("5b 80 45 52 45 47 00 0c 00 00 b0 fe 0a 04");
    }

    @Test
    void fieldWidthsAreInBitsInPkgLengthsEncodingWithoutCountingThemselves() {
        // Field (EREG, DWordAcc, NoLock, Preserve) { EVTS, 32 }: 5B 81 PkgLength "EREG" 03 "EVTS" 20
        assertThat(hex(Aml.field("EREG", Aml.Access.DWORD, "EVTS", 32))).isEqualTo("5b 81 0b 45 52 45 47 03 45 56 54 53 20");
        assertThat(hex(Aml.fieldWidth(63))).isEqualTo("3f");
        assertThat(hex(Aml.fieldWidth(64))).isEqualTo("40 04");
        assertThat(hex(Aml.fieldWidth(0x1000))).isEqualTo("80 00 01");
        assertThatThrownBy(() -> Aml.field("EREG", Aml.Access.BYTE, "E.F", 8)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void storeAndIfAndNotifyEncodeAsTheSpecSays() {
        // Store (EVTS, Local0): 70 "EVTS" 60
        assertThat(hex(Aml.store(Aml.ref("EVTS"), Aml.local0()))).isEqualTo("70 45 56 54 53 60");
        // If (And (Local0, 8)) { Notify (\_SB.PWRB, 0x80) }: A0 PkgLength 7B 60 0A 08 00 86 5C 2E "_SB_" "PWRB" 0A 80
        assertThat(hex(Aml.ifThen(Aml.and(Aml.local0(), Aml.integer(8)), Aml.notifyObject("\\_SB.PWRB", 0x80))))
                .isEqualTo("a0 13 7b 60 0a 08 00 86 5c 2e 5f 53 42 5f 50 57 52 42 0a 80");
    }

    @Test
    void deviceIsAnExtendedOpWithItsOwnPkgLength() {
        // Device (COM1) { Name (_UID, One) }: 5B 82 PkgLength "COM1" 08 "_UID" 01
        assertThat(hex(Aml.device("COM1", Aml.name("_UID", Aml.integer(1))))).isEqualTo("5b 82 0b 43 4f 4d 31 08 5f 55 49 44 01");
    }

    @Test
    void resourceTemplateEndsWithTheEndTag() {
        byte[] t = Aml.resourceTemplate(Aml.io(0x3f8, 8), Aml.irqNoFlags(4));
        // Buffer (0x0D) { IO (Decode16, 0x3F8, 0x3F8, 1, 8), IRQNoFlags {4}, EndTag }
        assertThat(hex(t)).isEqualTo("11 10 0a 0d 47 01 f8 03 f8 03 01 08 22 10 00 79 00");
    }

    @Test
    void memoryAndExtendedInterruptDescriptorsHaveTheirSpecLengths() {
        assertThat(hex(Aml.memory32Fixed(true, 0xfec00000L, 0x1000))).isEqualTo("86 09 00 01 00 00 c0 fe 00 10 00 00");
        // Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { 33 }
        assertThat(hex(Aml.interrupt(true, false, 33))).isEqualTo("89 06 00 01 01 21 00 00 00");
        assertThat(Aml.qwordMemory(0, 1)).hasSize(46);
        assertThat(Aml.dwordMemory(0, 1)).hasSize(26);
        assertThat(Aml.wordBusNumber(0, 255)).hasSize(16);
    }

    @Test
    void isaIrqAboveFifteenIsRefused() {
        assertThatThrownBy(() -> Aml.irqNoFlags(16)).isInstanceOf(IllegalArgumentException.class).hasMessage("an ISA IRQ is 0-15, not 16");
    }
}
