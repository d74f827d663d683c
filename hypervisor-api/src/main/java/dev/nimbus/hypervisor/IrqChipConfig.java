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
     * x86-64, the split irqchip: per-vCPU local APICs in the hypervisor, and no IOAPIC, PIC or PIT there. The VMM
     * emulates the IOAPIC (MSHV has no other kind; KVM's {@code KVM_CAP_SPLIT_IRQCHIP}). GSIs 0 to
     * {@code ioapicPins - 1} are the IOAPIC's: the VMM routes each pin to the MSI its redirection entry makes
     * ({@link GsiRoute.Msi}) and sends it ({@link IrqChip#signalMsi}); the hypervisor learns from those routes
     * which vectors are the IOAPIC's level-triggered ones and reports their EOI as {@link VcpuExit.IoapicEoi}.
     * The chip's own {@link IrqChip#setIrqLine} drives nothing. {@code tssAddress} and {@code identityMapAddress}
     * as for {@link X86Legacy}, for a hypervisor that needs them.
     */
    record X86Split(long tssAddress, long identityMapAddress, int ioapicPins) implements IrqChipConfig {
        public X86Split {
            if (ioapicPins < 1 || ioapicPins > 256) {
                throw new IllegalArgumentException("an IOAPIC has 1 to 256 pins, not " + ioapicPins);
            }
        }
    }

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
