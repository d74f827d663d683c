package dev.nimbus.mshv;

import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.mshv.fd.MshvPartitionFd;

/**
 * x86-64 on MSHV, the split irqchip, the only kind the hypervisor has: its local APICs (the partition is made
 * with them) and the VMM's IOAPIC. Nothing is created; an MSI the VMM sends (the IOAPIC's) is asserted with
 * {@code HVCALL_ASSERT_VIRTUAL_INTERRUPT}, decoded as the kernel decodes a routed one for an irqfd: vector in data
 * bits 0-7, delivery mode (the hypervisor's interrupt type) in bits 8-10, level-triggered in bit 15, destination
 * APIC id in address bits 12-19, logical destination in address bit 2. An interrupt asserted as level-triggered
 * is what makes the hypervisor report its EOI ({@code HVMSG_X64_APIC_EOI}, the vCPU's
 * {@code VcpuExit.IoapicEoi}), so the IOAPIC's level pins work with nothing installed for them. There are no
 * lines in the hypervisor to drive.
 */
final class MshvSplitIrqChip implements IrqChip {
    static final long MSI_ADDRESS_BASE = 0xfee0_0000L;
    static final long MSI_ADDRESS_MASK = 0xfff0_0000L;
    private static final int DELIVERY_MODE_RESERVED = 3;

    private final IrqChipConfig.X86Split config;
    private final MshvPartitionFd partition;

    MshvSplitIrqChip(IrqChipConfig.X86Split config, MshvPartitionFd partition) {
        this.config = config;
        this.partition = partition;
    }

    @Override
    public IrqChipConfig config() {
        return config;
    }

    @Override
    public void finishSetup() {
        // the local APICs come with the VPs
    }

    /** Refused: the hypervisor has no IOAPIC or PIC pin to drive; the VMM's IOAPIC turns lines into MSIs. */
    @Override
    public void setIrqLine(int gsi, boolean high) {
        throw new UnsupportedOperationException("mshv: the hypervisor has no interrupt lines (GSI " + gsi
                + "): the IOAPIC is the VMM's");
    }

    /** Asserts {@code message} on the local APIC it names; an address outside the local APICs' window is refused. */
    @Override
    public void signalMsi(MsiMessage message) {
        long address = message.address();
        int data = message.data();
        int deliveryMode = (data >>> 8) & 7;
        if ((address & MSI_ADDRESS_MASK) != MSI_ADDRESS_BASE || address >>> 32 != 0 || deliveryMode == DELIVERY_MODE_RESERVED) {
            throw new HypervisorException(String.format("mshv: an MSI to address 0x%x with data 0x%x is no x86 local APIC interrupt",
                    address, data));
        }
        // MSI delivery modes and the hypervisor's interrupt types share their numbers (HV_X64_INTERRUPT_TYPE_*)
        int type = deliveryMode;
        partition.assertVirtualInterrupt(type, data & 0xff, (address >>> 12) & 0xff, (data >>> 15 & 1) != 0,
                (address >>> 2 & 1) != 0);
    }
}
