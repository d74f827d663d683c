package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmVmFd;

import java.util.List;

/**
 * x86-64, KVM's split irqchip: {@code KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)} with the IOAPIC's pin count, so the
 * local APICs are in the kernel and the IOAPIC and PIC are not ({@code KVM_CREATE_IRQCHIP} and
 * {@code KVM_CREATE_PIT2} are not called). GSIs 0 to pins - 1 are kept for the VMM's IOAPIC: KVM reads the MSI
 * routes the VMM installs there to learn which vectors are level-triggered IOAPIC vectors, and reports their EOI
 * as {@code KVM_EXIT_IOAPIC_EOI}. Messages go in with {@code KVM_SIGNAL_MSI}; there are no interrupt lines
 * in the kernel to drive. The TSS and identity-map ranges are set as for the in-kernel irqchip.
 */
public final class X86SplitIrqChip implements IrqChip {
    private final IrqChipConfig.X86Split config;
    private final KvmVmFd vm;

    private X86SplitIrqChip(IrqChipConfig.X86Split config, KvmVmFd vm) {
        this.config = config;
        this.vm = vm;
    }

    /** Enables it; before any vCPU, as KVM requires. */
    public static X86SplitIrqChip create(IrqChipConfig.X86Split config, KvmVmFd vm) {
        vm.setIdentityMapAddr(config.identityMapAddress());
        vm.setTssAddr(config.tssAddress());
        vm.enableCap(KvmConstants.KVM_CAP_SPLIT_IRQCHIP, config.ioapicPins());
        return new X86SplitIrqChip(config, vm);
    }

    @Override
    public IrqChipConfig config() {
        return config;
    }

    @Override
    public void finishSetup() {
        // nothing after the vCPUs: their local APICs come with them
    }

    /**
     * Nothing: the local APICs are saved with their vCPUs, and the IOAPIC is the VMM's device, which saves itself;
     * there is no PIC or PIT.
     */
    @Override
    public List<StateRecord> saveState() {
        return List.of();
    }

    /** Accepts what {@link #saveState()} gives: no records. */
    @Override
    public void restoreState(List<StateRecord> records) {
        if (!records.isEmpty()) {
            throw new StateException("the split irqchip keeps no state in KVM, but was given "
                    + records.stream().map(StateRecord::id).toList() + " (saved with the in-kernel irqchip?)");
        }
    }

    /** Refused: the kernel has no IOAPIC or PIC pin to drive; the VMM's IOAPIC turns lines into MSIs. */
    @Override
    public void setIrqLine(int gsi, boolean high) {
        throw new UnsupportedOperationException("the split irqchip has no in-kernel interrupt lines (GSI " + gsi
                + "): the IOAPIC is the VMM's");
    }

    @Override
    public void signalMsi(MsiMessage message) {
        vm.signalMsi(message);
    }
}
