package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.hypervisor.x86.InstructionEmulator;

/**
 * The bus the emulated access goes to: an access of {@code size} bytes (1, 2, 4 or 8) at the intercept's
 * guest physical address. Values are the bytes as a little-endian number, zero above {@code size}.
 *
 * <p>An instruction makes one read, one write, or a read then a write at the same address (the ALU
 * instructions with a memory destination and {@code xchg}), each of the instruction's memory operand size.
 * What the bus throws passes through the emulator unchanged. It is the SPI's {@link InstructionEmulator.Memory}.
 */
public interface MmioAccess extends InstructionEmulator.Memory {
}
