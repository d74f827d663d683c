package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.arch.x86_64.emulator.RecordingMmio.Access;

import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * What must hold for any instruction bytes, shared by the property test and the fuzz target: the emulator
 * returns one of its two results and throws nothing; a refusal names the RIP and changes nothing; an
 * emulation advanced RIP by the decoded length (at most 15 bytes, within the bytes given), made one or two
 * accesses (a read, a write, or a read then a write) of the memory operand's size at the intercept's address,
 * and changed at most one general-purpose register and only the status flags of RFLAGS. A string instruction
 * ({@code movs}, {@code stos}) instead made accesses of its element size, at most two per iteration and at most
 * {@link MmioEmulator#MAX_ITERATIONS} iterations, changed only rCX, rSI and rDI and no flag, and left RIP either
 * past it or, part way through a REP, at it with rCX not zero. The translation the string instructions ask for
 * is a made-up one that sometimes gives the intercept's address, sometimes RAM and sometimes nothing.
 */
final class EmulationInvariants {
    static final long GPA = 0xfee0_0030L;

    private EmulationInvariants() {}

    /** The made-up translation: every fifth offset untranslatable, ES mostly the intercept's address, the rest RAM. */
    static final RecordingMmio.Translation SOMETIMES = (segment, offset) ->
            offset % 5 == 0 ? -1 : segment == 0 && offset % 3 != 0 ? GPA : 0x1000 + (offset & 0xfff);

    /** Emulates the first {@code count} of {@code bytes} and checks the invariants; returns whether it was emulated. */
    static boolean check(byte[] bytes, int count, CpuMode mode, TestRegisters registers, long busValue) {
        return check(bytes, count, mode, registers, busValue, SOMETIMES);
    }

    /** {@link #check(byte[], int, CpuMode, TestRegisters, long)} with the string instructions' translation given. */
    static boolean check(byte[] bytes, int count, CpuMode mode, TestRegisters registers, long busValue,
                         RecordingMmio.Translation translation) {
        TestRegisters before = registers.copy();
        RecordingMmio mmio = new RecordingMmio(busValue);
        mmio.translation = translation;
        EmulationResult result;
        try {
            result = MmioEmulator.emulate(bytes, count, mode, registers, GPA, mmio);
        } catch (RuntimeException | Error e) {
            throw new AssertionError("emulating " + describe(bytes, count, mode) + " threw " + e, e);
        }
        return switch (result) {
            case EmulationResult.CannotEmulate(String message) -> {
                assertThat(message).as(describe(bytes, count, mode)).startsWith("cannot emulate ")
                        .contains(String.format(" at rip 0x%x: ", before.rip));
                assertThat(registers).as(describe(bytes, count, mode)).isEqualTo(before);
                assertThat(mmio.accesses).as(describe(bytes, count, mode)).isEmpty();
                yield false;
            }
            case EmulationResult.Emulated(long nextRip) -> {
                checkEmulated(bytes, count, mode, before, registers, mmio.accesses, nextRip);
                yield true;
            }
        };
    }

    private static void checkEmulated(byte[] bytes, int count, CpuMode mode, TestRegisters before, TestRegisters after,
                                      List<Access> accesses, long nextRip) {
        String what = describe(bytes, count, mode);
        Instruction i = decoded(bytes, count, mode);
        assertThat(i.length()).as(what).isBetween(1, Math.min(count, InstructionDecoder.MAX_LENGTH));
        long expectedRip = before.rip + i.length();
        if (mode != CpuMode.LONG_64) {
            expectedRip &= Alu.mask(mode.defaultOperandSize());
        }
        if (InstructionDecoder.isString(i.opcode())) {
            checkString(what, i, before, after, accesses, nextRip, expectedRip);
            return;
        }
        assertThat(nextRip).as(what).isEqualTo(expectedRip);
        assertThat(after.rip).as(what).isEqualTo(expectedRip);

        assertThat(accesses).as(what).isNotEmpty().hasSizeLessThanOrEqualTo(2)
                .allSatisfy(a -> {
                    assertThat(a.gpa()).isEqualTo(GPA);
                    assertThat(a.size()).isEqualTo(i.memorySize());
                    assertThat(a.value() & ~Alu.mask(a.size())).isZero();
                });
        if (accesses.size() == 2) {
            assertThat(accesses.get(0).isWrite()).as(what + ": a read, then a write").isFalse();
            assertThat(accesses.get(1).isWrite()).as(what + ": a read, then a write").isTrue();
        }
        assertThat(after.rflags & ~Alu.STATUS).as(what + ": only the status flags change").isEqualTo(before.rflags & ~Alu.STATUS);
        int changed = 0;
        for (int r = 0; r < 16; r++) {
            if (after.gprs[r] != before.gprs[r]) {
                changed++;
            }
        }
        if (changed > 1) {
            fail(what + " changed " + changed + " registers: " + before + " -> " + after);
        }
    }

    private static void checkString(String what, Instruction i, TestRegisters before, TestRegisters after, List<Access> accesses,
                                    long nextRip, long expectedRip) {
        assertThat(after.rip).as(what).isEqualTo(nextRip);
        if (nextRip != expectedRip) {
            assertThat(nextRip).as(what + ": stopped part way, at the instruction").isEqualTo(before.rip);
            assertThat(i.repeat()).as(what + ": only a REP stops part way").isEqualTo(0xf3);
            assertThat(after.gprs[Registers.RCX] & Alu.mask(i.addressSize())).as(what + ": iterations left").isNotZero();
        }
        assertThat(accesses).as(what).hasSizeLessThanOrEqualTo(2 * MmioEmulator.MAX_ITERATIONS)
                .allSatisfy(a -> {
                    assertThat(a.size()).isEqualTo(i.operandSize());
                    assertThat(a.value() & ~Alu.mask(a.size())).isZero();
                });
        assertThat(after.rflags).as(what + ": no flag changes").isEqualTo(before.rflags);
        for (int r = 0; r < 16; r++) {
            if (r != Registers.RCX && r != Registers.RSI && r != Registers.RDI) {
                assertThat(after.gprs[r]).as(what + ": register " + r).isEqualTo(before.gprs[r]);
            }
        }
    }

    private static Instruction decoded(byte[] bytes, int count, CpuMode mode) {
        try {
            return InstructionDecoder.decode(bytes, count, mode);
        } catch (Refused r) {
            throw new AssertionError(describe(bytes, count, mode) + " was emulated but does not decode: " + r.getMessage());
        }
    }

    static String describe(byte[] bytes, int count, CpuMode mode) {
        return "[" + HexFormat.ofDelimiter(" ").formatHex(bytes, 0, count) + "] in " + mode;
    }
}
