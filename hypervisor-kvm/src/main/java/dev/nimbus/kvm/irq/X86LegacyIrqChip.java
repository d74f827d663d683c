package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmVmFd;

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
    static final int IOAPIC_PINS = 24;
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
