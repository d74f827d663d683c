package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.X86KvmStructs;
import dev.nimbus.kvm.fd.KvmVmFd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * x86-64: KVM's in-kernel PIC pair, IOAPIC and local APICs ({@code KVM_CREATE_IRQCHIP}), the i8254 PIT
 * ({@code KVM_CREATE_PIT2}), and the two guest ranges VMX may need ({@code KVM_SET_TSS_ADDR},
 * {@code KVM_SET_IDENTITY_MAP_ADDR}). GSIs 0-15 reach the PIC and IOAPIC, 16-23 the IOAPIC, by KVM's
 * default routing.
 */
public final class X86LegacyIrqChip implements IrqChip {
    /** Pins of KVM's IOAPIC: GSIs 0-23. */
    static final int IOAPIC_PINS = KvmConstants.KVM_IOAPIC_NUM_PINS;
    static final int STATE_VERSION = 1;
    /** The record of each {@code chip_id}: KVM_IRQCHIP_PIC_MASTER (0), KVM_IRQCHIP_PIC_SLAVE (1), KVM_IRQCHIP_IOAPIC (2). */
    static final String[] CHIP_RECORDS = {"kvm-x86-pic-master", "kvm-x86-pic-slave", "kvm-x86-ioapic"};
    static final String PIT_RECORD = "kvm-x86-pit2";
    private final IrqChipConfig.X86Legacy config;
    private final KvmVmFd vm;

    private X86LegacyIrqChip(IrqChipConfig.X86Legacy config, KvmVmFd vm) {
        this.config = config;
        this.vm = vm;
    }

    /** Creates it; before any vCPU (the identity map address must be set first). */
    public static X86LegacyIrqChip create(IrqChipConfig.X86Legacy config, KvmVmFd vm) {
        vm.setIdentityMapAddr(config.identityMapAddress());
        vm.setTssAddr(config.tssAddress());
        vm.createIrqchip();
        if (config.pit()) {
            vm.createPit2(KvmConstants.KVM_PIT_SPEAKER_DUMMY);
        }
        return new X86LegacyIrqChip(config, vm);
    }

    @Override
    public IrqChipConfig config() {
        return config;
    }

    @Override
    public void finishSetup() {
        // nothing: the x86 irqchip needs no step after the vCPUs exist
    }

    /**
     * The master and slave PIC and the IOAPIC ({@code KVM_GET_IRQCHIP}, each a {@code struct kvm_irqchip}), and the
     * PIT where the machine has one ({@code KVM_GET_PIT2}, a {@code struct kvm_pit_state2}).
     */
    @Override
    public List<StateRecord> saveState() {
        List<StateRecord> out = new ArrayList<>(4);
        for (int chip = 0; chip < CHIP_RECORDS.length; chip++) {
            out.add(new StateRecord(CHIP_RECORDS[chip], STATE_VERSION, vm.getIrqchip(chip)));
        }
        if (config.pit()) {
            out.add(new StateRecord(PIT_RECORD, STATE_VERSION, vm.getPit2()));
        }
        return List.copyOf(out);
    }

    /**
     * Checks every record first (present in version 1, the struct's size, each {@code kvm_irqchip}'s {@code chip_id}
     * the one its id names, a PIT record exactly where this machine has a PIT), then sets them.
     */
    @Override
    public void restoreState(List<StateRecord> records) {
        byte[][] chips = new byte[CHIP_RECORDS.length][];
        for (int chip = 0; chip < CHIP_RECORDS.length; chip++) {
            chips[chip] = StateRecord.find(records, CHIP_RECORDS[chip], STATE_VERSION)
                    .requireLength((int) X86KvmStructs.KVM_IRQCHIP.byteSize()).data();
            int id = MemorySegment.ofArray(chips[chip]).get(ValueLayout.JAVA_INT_UNALIGNED, X86KvmStructs.IRQCHIP_CHIP_ID);
            if (id != chip) {
                throw new StateException(CHIP_RECORDS[chip] + ": holds the state of chip " + id + ", not " + chip);
            }
        }
        byte[] pit = null;
        if (config.pit()) {
            pit = StateRecord.find(records, PIT_RECORD, STATE_VERSION)
                    .requireLength((int) X86KvmStructs.KVM_PIT_STATE2.byteSize()).data();
        } else if (records.stream().anyMatch(r -> r.id().equals(PIT_RECORD))) {
            throw new StateException(PIT_RECORD + ": saved from a machine with a PIT; this one has none");
        }
        for (byte[] chip : chips) {
            vm.setIrqchip(chip);
        }
        if (pit != null) {
            vm.setPit2(pit);
        }
    }

    @Override
    public void setIrqLine(int gsi, boolean high) {
        if (gsi < 0 || gsi >= IOAPIC_PINS) {
            throw new IllegalArgumentException("x86 in-kernel irqchip has GSIs 0-23, not " + gsi);
        }
        vm.irqLine(gsi, high);
    }

    @Override
    public void signalMsi(MsiMessage message) {
        vm.signalMsi(message);
    }

    /**
     * KVM's default table, which installing any routing replaces: GSIs 0-7 on the master PIC, 8-15 on the
     * slave PIC, and 0-23 on the IOAPIC pin of the same number.
     */
    @Override
    public List<GsiRoute> lineRoutes() {
        List<GsiRoute> routes = new ArrayList<>();
        for (int gsi = 0; gsi < IOAPIC_PINS; gsi++) {
            if (gsi < 16) {
                routes.add(new GsiRoute.IrqchipPin(gsi, gsi < 8 ? KvmConstants.KVM_IRQCHIP_PIC_MASTER : KvmConstants.KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
            }
            routes.add(new GsiRoute.IrqchipPin(gsi, KvmConstants.KVM_IRQCHIP_IOAPIC, gsi));
        }
        return List.copyOf(routes);
    }
}
