package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.hypervisor.x86.InstructionEmulator;

/**
 * The register state the emulator reads and changes, implemented by the backend over what its intercept
 * message carries: the sixteen general-purpose registers, RIP and RFLAGS, always as full 64-bit values.
 *
 * <p>Registers are numbered as the instruction encoding numbers them ({@link #RAX} 0, {@link #RCX} 1,
 * {@link #RDX} 2, {@link #RBX} 3, {@link #RSP} 4, {@link #RBP} 5, {@link #RSI} 6, {@link #RDI} 7, then
 * R8 to R15), not in {@code X86Regs}' order, so that a ModRM field is an index here without a table.
 * The emulator merges 8- and 16-bit results and zero-extends 32-bit ones itself; a setter always gets the
 * whole register. It is the SPI's {@link InstructionEmulator.Registers} with names for the encoding order.
 */
public interface Registers extends InstructionEmulator.Registers {
    int RAX = 0;
    int RCX = 1;
    int RDX = 2;
    int RBX = 3;
    int RSP = 4;
    int RBP = 5;
    int RSI = 6;
    int RDI = 7;
}
