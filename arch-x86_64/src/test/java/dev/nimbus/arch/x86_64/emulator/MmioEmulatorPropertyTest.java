package dev.nimbus.arch.x86_64.emulator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 200,000 instruction windows from a fixed seed, each checked against {@link EmulationInvariants}: half plain
 * random bytes (nearly all refused at the opcode), half built to reach the emulator's paths (a few prefixes
 * drawn from every kind, REX included, then one of the opcodes it handles, then random ModRM, SIB,
 * displacement and immediate bytes), cut at a random length up to the 16 bytes an intercept carries.
 * Registers and the bus value are random. The whole run has a time limit, so a loop would fail it; and REP
 * string instructions are run once more with every address translatable, so that their bound is what stops them.
 */
class MmioEmulatorPropertyTest {
    private static final int[] PREFIXES = {0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x40, 0x41, 0x44, 0x48, 0x4c, 0x4f};
    private static final int[] OPCODES = {0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1a, 0x1b,
        0x20, 0x21, 0x22, 0x23, 0x28, 0x29, 0x2a, 0x2b, 0x30, 0x31, 0x32, 0x33, 0x38, 0x39, 0x3a, 0x3b, 0x63, 0x80, 0x81, 0x82, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xaa, 0xab, 0xc6, 0xc7, 0xf6, 0xf7};
    private static final int[] TWO_BYTE = {0xb6, 0xb7, 0xbe, 0xbf, 0x0b, 0x38, 0xaf};
    private static final CpuMode[] MODES = CpuMode.values();

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anyBytesEndInEmulatedOrCannotEmulateWithTheAccessesOfTheOperandSize() {
        Random random = new Random(0x13_13_13L);
        int emulated = 0;
        for (int n = 0; n < 200_000; n++) {
            byte[] bytes = n % 2 == 0 ? randomBytes(random) : plausible(random);
            int count = random.nextInt(4) == 0 ? random.nextInt(bytes.length + 1) : bytes.length;
            TestRegisters registers = TestRegisters.at(random.nextInt(8) == 0 ? 0xffff_fffeL : random.nextLong());
            for (int r = 0; r < 16; r++) {
                registers.gprs[r] = random.nextLong();
            }
            registers.rflags = 0x2 | (random.nextLong() & 0x0cd5);
            if (EmulationInvariants.check(bytes, count, MODES[random.nextInt(MODES.length)], registers, random.nextLong())) {
                emulated++;
            }
        }
        // the generator must reach the emulator, not only the refusals
        assertThat(emulated).isGreaterThan(30_000);
    }

    /**
     * The emulator's one loop is a REP's, and the translation above fails within five elements, so the test above
     * never reaches its bound. Here every address translates (ES to the intercept's address, the rest to RAM) and
     * rCX is as large as 2^64 - 1, in every mode and address size: each call must still return, after at most
     * {@link MmioEmulator#MAX_ITERATIONS} iterations (which {@link EmulationInvariants} checks from the accesses),
     * with RIP at the instruction when it stopped part way. The time limit turns a missing bound into a failure.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aRepStopsWithinItsBoundHoweverLargeRcxWhenEveryAddressTranslates() {
        Random random = new Random(0x5245_50L);
        RecordingMmio.Translation everywhere = (segment, offset) -> segment == 0 ? EmulationInvariants.GPA : 0x1000 + (offset & 0xfff);
        int stoppedPartWay = 0;
        for (int n = 0; n < 500; n++) {
            byte[] bytes = new byte[16];
            random.nextBytes(bytes);
            int p = 0;
            for (int k = random.nextInt(3); k > 0; k--) {
                bytes[p++] = (byte) new int[] {0x66, 0x67, 0x26, 0x3e, 0x64}[random.nextInt(5)];
            }
            bytes[p++] = (byte) 0xf3;
            CpuMode mode = MODES[random.nextInt(MODES.length)];
            if (mode == CpuMode.LONG_64 && random.nextBoolean()) {
                bytes[p++] = (byte) (0x40 | random.nextInt(16));
            }
            bytes[p] = (byte) new int[] {0xa4, 0xa5, 0xaa, 0xab}[random.nextInt(4)];
            TestRegisters registers = TestRegisters.at(0x1000);
            for (int r = 0; r < 16; r++) {
                registers.gprs[r] = random.nextLong();
            }
            registers.gprs[Registers.RCX] = switch (random.nextInt(3)) {
                case 0 -> -1L;
                case 1 -> random.nextLong();
                default -> random.nextLong() | 0xffff_ffffL; // every address size's count at its largest
            };
            registers.rflags = 0x2 | (random.nextBoolean() ? MmioEmulator.DF : 0);
            assertThat(EmulationInvariants.check(bytes, bytes.length, mode, registers, random.nextLong(), everywhere))
                    .as(EmulationInvariants.describe(bytes, bytes.length, mode)).isTrue();
            if (registers.rip == 0x1000) {
                stoppedPartWay++;
            }
        }
        assertThat(stoppedPartWay).isGreaterThan(250);
    }

    private static byte[] randomBytes(Random random) {
        byte[] bytes = new byte[random.nextInt(17)];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] plausible(Random random) {
        byte[] bytes = new byte[16];
        random.nextBytes(bytes);
        int p = 0;
        for (int k = random.nextInt(5); k > 0; k--) {
            bytes[p++] = (byte) PREFIXES[random.nextInt(PREFIXES.length)];
        }
        if (random.nextInt(6) == 0) {
            bytes[p++] = 0x0f;
            bytes[p] = (byte) TWO_BYTE[random.nextInt(TWO_BYTE.length)];
        } else {
            bytes[p] = (byte) OPCODES[random.nextInt(OPCODES.length)];
        }
        return bytes;
    }
}
