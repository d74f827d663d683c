package dev.nimbus.arch.x86_64.emulator;

/**
 * One decoded instruction, as far as emulating its memory access needs.
 *
 * @param length       its length in bytes, prefixes included
 * @param opcode       the opcode byte, or {@code 0x0f00 | byte} for a two-byte ({@code 0f}) opcode
 * @param operandSize  the operand size in bytes (1, 2, 4 or 8): of the register or immediate operand
 * @param addressSize  the address size in bytes (2, 4 or 8)
 * @param memorySize   the size of the memory access in bytes; differs from the operand size only for
 *                     {@code movzx}, {@code movsx} and {@code movsxd}
 * @param rex          whether a REX prefix applies (it selects SPL/BPL/SIL/DIL over AH/CH/DH/BH)
 * @param segment      the segment override prefix byte, 0 if none
 * @param repeat       the last {@code f2}/{@code f3} prefix byte, 0 if none
 * @param lock         whether a {@code f0} prefix was present
 * @param mod          the ModRM mod field, or -1 for an instruction without ModRM (the {@code moffs} forms)
 * @param reg          the ModRM reg field with REX.R: a register number, or the opcode extension of a group
 * @param memory       the memory operand, {@code null} when ModRM names a register ({@code mod == 3}) and for
 *                     the string instructions, whose operands the opcode implies
 * @param immediate    the immediate, sign-extended to 64 bits as the instruction extends it; 0 if none
 */
record Instruction(int length, int opcode, int operandSize, int addressSize, int memorySize, boolean rex,
                   int segment, int repeat, boolean lock, int mod, int reg, MemoryOperand memory, long immediate) {
}
