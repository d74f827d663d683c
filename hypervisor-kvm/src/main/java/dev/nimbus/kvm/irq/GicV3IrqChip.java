package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.kvm.fd.KvmDeviceFd;
import dev.nimbus.kvm.fd.KvmVmFd;

import static dev.nimbus.kvm.abi.KvmConstants.*;

/**
 * AArch64: KVM's vGICv3 ({@code KVM_DEV_TYPE_ARM_VGIC_V3}) with its distributor and redistributor
 * addresses and SPI count, plus an ITS ({@code KVM_DEV_TYPE_ARM_VGIC_ITS}) when asked for. GSI n is SPI n
 * (interrupt id 32 + n), as KVM's default routing has it.
 */
public final class GicV3IrqChip implements IrqChip, AutoCloseable {
    private static final int PRIVATE_IRQS = 32;
    private final IrqChipConfig.GicV3 config;
    private final KvmVmFd vm;
    private final KvmDeviceFd gic;
    private final KvmDeviceFd its;
    private boolean initialized;

    private GicV3IrqChip(IrqChipConfig.GicV3 config, KvmVmFd vm, KvmDeviceFd gic, KvmDeviceFd its) {
        this.config = config;
        this.vm = vm;
        this.gic = gic;
        this.its = its;
    }

    public static GicV3IrqChip create(IrqChipConfig.GicV3 config, KvmVmFd vm) {
        if (config.spis() <= 0 || config.spis() % 32 != 0 || config.spis() > 988) {
            throw new IllegalArgumentException("GICv3 SPI count must be a positive multiple of 32 up to 960: " + config.spis());
        }
        KvmDeviceFd gic = vm.createDevice(KVM_DEV_TYPE_ARM_VGIC_V3);
        KvmDeviceFd its = null;
        try {
            gic.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, config.distributorBase());
            gic.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, config.redistributorBase());
            gic.setAttr32(KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, config.spis() + PRIVATE_IRQS);
            if (config.itsBase().isPresent()) {
                its = vm.createDevice(KVM_DEV_TYPE_ARM_VGIC_ITS);
                its.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, config.itsBase().getAsLong());
                its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT);
            }
            return new GicV3IrqChip(config, vm, gic, its);
        } catch (RuntimeException e) {
            gic.close();
            if (its != null) {
                its.close();
            }
            throw e;
        }
    }

    @Override
    public IrqChipConfig config() {
        return config;
    }

    /** {@code KVM_DEV_ARM_VGIC_CTRL_INIT}: after every vCPU exists (and is initialized). */
    @Override
    public synchronized void finishSetup() {
        if (!initialized) {
            gic.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT);
            initialized = true;
        }
    }

    @Override
    public void setIrqLine(int gsi, boolean high) {
        if (gsi < 0 || gsi >= config.spis()) {
            throw new IllegalArgumentException("GICv3 has SPIs 0-" + (config.spis() - 1) + ", not " + gsi);
        }
        vm.irqLine((KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (PRIVATE_IRQS + gsi), high);
    }

    @Override
    public void signalMsi(MsiMessage message) {
        vm.signalMsi(message);
    }

    @Override
    public void close() {
        if (its != null) {
            its.close();
        }
        gic.close();
    }
}
