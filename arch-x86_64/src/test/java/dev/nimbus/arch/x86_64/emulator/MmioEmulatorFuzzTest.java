package dev.nimbus.arch.x86_64.emulator;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.util.Arrays;

/**
 * Fuzz target for the emulator fed an intercept's instruction bytes: the first byte picks the mode, the
 * next eight the value the bus answers reads with, the rest (up to 16) are the instruction. Registers hold
 * distinct values so a wrong register shows. The invariants are {@link EmulationInvariants}': emulated or
 * refused, nothing thrown, the accesses of the operand size at the intercept's address, RIP advanced by
 * the instruction's length.
 */
class MmioEmulatorFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void anyInstructionBytesAreEmulatedOrRefused(byte[] data) {
        if (data.length < 9) {
            return;
        }
        CpuMode mode = CpuMode.values()[(data[0] & 0xff) % CpuMode.values().length];
        long busValue = 0;
        for (int i = 0; i < 8; i++) {
            busValue |= (data[1 + i] & 0xffL) << (8 * i);
        }
        byte[] instruction = Arrays.copyOfRange(data, 9, Math.min(data.length, 9 + 16));
        TestRegisters registers = TestRegisters.at(0xffff_ffff_8100_0000L);
        for (int r = 0; r < 16; r++) {
            registers.gprs[r] = 0x0101_0101_0101_0101L * (r + 1);
        }
        EmulationInvariants.check(instruction, instruction.length, mode, registers, busValue);
    }
}
