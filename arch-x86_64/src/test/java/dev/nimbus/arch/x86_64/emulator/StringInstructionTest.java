package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.arch.x86_64.emulator.RecordingMmio.Access;
import dev.nimbus.hypervisor.x86.InstructionEmulator.Memory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static dev.nimbus.arch.x86_64.emulator.Registers.RAX;
import static dev.nimbus.arch.x86_64.emulator.Registers.RCX;
import static dev.nimbus.arch.x86_64.emulator.Registers.RDI;
import static dev.nimbus.arch.x86_64.emulator.Registers.RSI;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code movs} and {@code stos}, with and without {@code rep}, one behaviour per test (SDM vol. 2, MOVS/STOS and
 * REP). The test's guest has its device page at ES:0x1000 (the intercept's GPA) and its RAM at DS:0x2000,
 * mapped at {@link #RAM}; FS has a base of 0x100 (so FS:0x2000 is RAM at {@code RAM + 0x100}).
 */
class StringInstructionTest {
    static final long GPA = 0xfeb0_1000L;
    static final long RAM = 0x0010_0000L;
    static final long RIP = 0xffff_ffff_8100_0000L;
    static final long DF = 0x400;

    TestRegisters registers = TestRegisters.at(RIP).with(RDI, 0x1000).with(RSI, 0x2000);
    RecordingMmio mmio = new RecordingMmio(0);
    final List<String> translated = new ArrayList<>();

    private void guestPageTables() {
        mmio.translation = (segment, offset) -> {
            translated.add(segment + ":" + Long.toHexString(offset));
            long linear = offset + (segment == Memory.FS ? 0x100 : 0);
            if (linear >= 0x1000 && linear < 0x2000) {
                return GPA + linear - 0x1000;
            }
            if (linear >= 0x2000 && linear < 0x3000) {
                return RAM + linear - 0x2000;
            }
            return -1;
        };
    }

    private EmulationResult emulate(String hex) {
        return emulate(CpuMode.LONG_64, hex);
    }

    private EmulationResult emulate(CpuMode mode, String hex) {
        byte[] bytes = HexFormat.ofDelimiter(" ").parseHex(hex);
        return MmioEmulator.emulate(bytes, bytes.length, mode, registers, GPA, mmio);
    }

    @Test
    void stosdWritesEaxAtTheInterceptAddressAndStepsRdi() {
        registers.with(RAX, 0x1122_3344_5566_7788L);
        assertThat(emulate("ab")).isEqualTo(new EmulationResult.Emulated(RIP + 1)); // stosd
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 4, 0x5566_7788L));
        assertThat(registers.gprs[RDI]).isEqualTo(0x1004);
        assertThat(translated).as("the first destination is the intercept's; nothing to translate").isEmpty();
    }

    @Test
    void repStosbFillsRcxBytesUpwardAndCountsRcxToZero() {
        guestPageTables();
        registers.with(RAX, 0x5a).with(RCX, 3);
        assertThat(emulate("f3 aa")).isEqualTo(new EmulationResult.Emulated(RIP + 2)); // rep stosb
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 1, 0x5a), Access.write(GPA + 1, 1, 0x5a), Access.write(GPA + 2, 1, 0x5a));
        assertThat(registers.gprs[RCX]).isZero();
        assertThat(registers.gprs[RDI]).isEqualTo(0x1003);
        assertThat(translated).containsExactly("0:1001", "0:1002");
    }

    @Test
    void theDirectionFlagStepsDown() {
        guestPageTables();
        registers.with(RAX, -1L).with(RCX, 2).with(RDI, 0x1010).rflags = 0x2 | DF;
        assertThat(emulate("f3 48 ab")).isEqualTo(new EmulationResult.Emulated(RIP + 3)); // rep stosq, DF set
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 8, -1L), Access.write(GPA + 0x8, 8, -1L));
        assertThat(registers.gprs[RDI]).isEqualTo(0x1000);
        assertThat(registers.rflags).isEqualTo(0x2 | DF);
    }

    @Test
    void repMovsdCopiesFromRamToTheDeviceInOrder() {
        guestPageTables();
        mmio.contents = gpa -> gpa * 3;
        registers.with(RCX, 2);
        assertThat(emulate("f3 a5")).isEqualTo(new EmulationResult.Emulated(RIP + 2)); // rep movsd
        assertThat(mmio.accesses).containsExactly(
                Access.read(RAM, 4, RAM * 3 & 0xffff_ffffL), Access.write(GPA, 4, RAM * 3 & 0xffff_ffffL),
                Access.read(RAM + 4, 4, (RAM + 4) * 3 & 0xffff_ffffL), Access.write(GPA + 4, 4, (RAM + 4) * 3 & 0xffff_ffffL));
        assertThat(registers.gprs[RSI]).isEqualTo(0x2008);
        assertThat(registers.gprs[RDI]).isEqualTo(0x1008);
        assertThat(registers.gprs[RCX]).isZero();
    }

    @Test
    void aSegmentOverrideMovesTheSourceButNeverTheDestination() {
        guestPageTables();
        mmio.contents = gpa -> 0x42;
        assertThat(emulate("64 a4")).isEqualTo(new EmulationResult.Emulated(RIP + 2)); // movsb [rdi], fs:[rsi]
        assertThat(translated).containsExactly("0:1000", "4:2000");
        assertThat(mmio.accesses).containsExactly(Access.read(RAM + 0x100, 1, 0x42), Access.write(GPA, 1, 0x42));
    }

    @Test
    void movsFromTheDeviceToRamIsAReadAtTheInterceptAddress() {
        mmio.translation = (segment, offset) -> segment == Memory.DS ? GPA : RAM;
        mmio.value = 0xbeef;
        registers.with(RSI, 0x7000).with(RDI, 0x9000);
        assertThat(emulate("66 a5")).isEqualTo(new EmulationResult.Emulated(RIP + 2)); // movsw
        assertThat(mmio.accesses).containsExactly(Access.read(GPA, 2, 0xbeef), Access.write(RAM, 2, 0xbeef));
    }

    @Test
    void aRepWhoseNextAddressCannotBeTranslatedStopsWithRipAtTheInstruction() {
        registers.with(RAX, 0x5a).with(RCX, 5);
        assertThat(emulate("f3 aa")).isEqualTo(new EmulationResult.Emulated(RIP)); // rep stosb, no translation
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 1, 0x5a));
        assertThat(registers.gprs[RCX]).isEqualTo(4);
        assertThat(registers.gprs[RDI]).isEqualTo(0x1001);
        assertThat(registers.rip).isEqualTo(RIP);
    }

    @Test
    @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // without the bound, 2^40 iterations: fail, not hang
    void aHugeCountStopsAfterMaxIterationsForTheGuestToExecuteAgain() {
        mmio.translation = (segment, offset) -> GPA;
        registers.with(RCX, 1L << 40);
        assertThat(emulate("f3 aa")).isEqualTo(new EmulationResult.Emulated(RIP));
        assertThat(mmio.accesses).hasSize(MmioEmulator.MAX_ITERATIONS);
        assertThat(registers.gprs[RCX]).isEqualTo((1L << 40) - MmioEmulator.MAX_ITERATIONS);
    }

    @Test
    void aRepWithRcxZeroDoesNothingButAdvanceRip() {
        assertThat(emulate("f3 a4")).isEqualTo(new EmulationResult.Emulated(RIP + 2));
        assertThat(mmio.accesses).isEmpty();
        assertThat(registers.gprs[RDI]).isEqualTo(0x1000);
    }

    @Test
    void theAddressSizeDecidesWhichPartOfTheRegistersSteps() {
        guestPageTables();
        registers.with(RDI, -1L);
        assertThat(emulate("67 aa")).isEqualTo(new EmulationResult.Emulated(RIP + 2)); // stosb [edi]
        assertThat(registers.gprs[RDI]).as("a 32-bit result zero-extends").isZero();
        registers.rip = 0x7c00;
        registers.with(RDI, 0xabcd_ffffL);
        assertThat(emulate(CpuMode.PROTECTED_16, "aa")).isEqualTo(new EmulationResult.Emulated(0x7c01)); // stosb [di]
        assertThat(registers.gprs[RDI]).as("a 16-bit result merges").isEqualTo(0xabcd_0000L);
    }

    @Test
    void movsWithoutATranslationIsRefusedNamingTheOperand() {
        TestRegisters before = registers.copy();
        assertThat(emulate("a4")).isEqualTo(new EmulationResult.CannotEmulate("cannot emulate a4 at rip 0xffffffff81000000: "
                + "movs needs the guest physical address of es:0x1000, which this backend cannot translate here"));
        assertThat(registers).isEqualTo(before);
        assertThat(mmio.accesses).isEmpty();
    }

    @Test
    void movsWhoseOperandsAreNeitherTheInterceptAddressIsRefused() {
        mmio.translation = (segment, offset) -> RAM + offset;
        assertThat(emulate("a4")).isEqualTo(new EmulationResult.CannotEmulate("cannot emulate a4 at rip 0xffffffff81000000: "
                + "the intercept's address 0xfeb01000 is neither operand (source 0x102000, destination 0x101000)"));
        assertThat(mmio.accesses).isEmpty();
    }

    @Test
    void lockAndRepneOnStringInstructionsAreRefused() {
        assertThat(emulate("f0 aa")).isEqualTo(new EmulationResult.CannotEmulate(
                "cannot emulate f0 aa at rip 0xffffffff81000000: a lock prefix on a string instruction (#UD on the CPU)"));
        assertThat(emulate("f2 a4")).isEqualTo(new EmulationResult.CannotEmulate(
                "cannot emulate f2 a4 at rip 0xffffffff81000000: an f2 (repne) prefix on movs/stos, which the SDM does not define"));
        assertThat(mmio.accesses).isEmpty();
    }
}
