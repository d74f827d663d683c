/**
 * An x86 instruction emulator for MMIO, for hypervisors that leave it to the VMM.
 *
 * <p>KVM emulates a guest's access to an unmapped address in the kernel and hands the VMM a finished
 * read or write. Microsoft Hypervisor does not: its memory intercept carries the guest physical address,
 * the register state and up to 16 instruction bytes, and the VMM decodes the instruction, performs the
 * access on its bus, writes the destination register and flags and advances RIP. This package does that
 * for the instructions guests use on device registers ({@code mov} in its forms, {@code movzx}/{@code movsx},
 * the ALU instructions with a memory operand, {@code xchg}). Anything else is refused with a message that
 * names the bytes, never guessed at.
 *
 * <p>It knows no backend: the registers and the bus come in through {@link dev.nimbus.arch.x86_64.emulator.Registers}
 * and {@link dev.nimbus.arch.x86_64.emulator.MmioAccess}.
 */
package dev.nimbus.arch.x86_64.emulator;
