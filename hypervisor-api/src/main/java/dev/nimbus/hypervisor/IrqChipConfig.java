package dev.nimbus.hypervisor;

import java.util.OptionalLong;

/**
 * The in-kernel interrupt controller an architecture platform asks the backend to create, with the guest
 * addresses the platform chose for it. The platform decides the layout (it also describes it to the guest
 * in ACPI or the FDT); the backend knows how to create it.
 */
public sealed interface IrqChipConfig {
    /**
     * x86-64: the legacy PIC pair, an IOAPIC and per-vCPU local APICs, plus the i8254 PIT. {@code tssAddress}
     * is a 3-page, and {@code identityMapAddress} a 1-page, guest range the hypervisor may need (Intel VMX
     * without unrestricted guest) and that the platform keeps out of RAM.
     */
    record X86Legacy(long tssAddress, long identityMapAddress, boolean pit) implements IrqChipConfig {}

    /**
     * AArch64: a GICv3 distributor ({@code 64 KiB}), one redistributor region of {@code 128 KiB} per vCPU
     * from {@code redistributorBase}, and optionally an ITS for MSIs. {@code spis} counts the shared
     * peripheral interrupts (a multiple of 32).
     */
    record GicV3(long distributorBase, long redistributorBase, OptionalLong itsBase, int spis) implements IrqChipConfig {}

    /**
     * riscv64: the AIA, an APLIC for wired interrupts and an IMSIC per vCPU for MSIs. {@code sources} counts
     * the APLIC's wired sources, {@code ids} the IMSIC's interrupt identities.
     */
    record Aia(long aplicBase, long imsicBase, int sources, int ids) implements IrqChipConfig {}
}
