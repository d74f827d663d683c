package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.kvm.fd.KvmDeviceFd;
import dev.nimbus.kvm.fd.KvmVmFd;

import java.util.List;
import java.util.function.IntSupplier;

import static dev.nimbus.kvm.abi.KvmConstants.*;

/**
 * riscv64: KVM's in-kernel AIA ({@code KVM_DEV_TYPE_RISCV_AIA}): an APLIC for wired interrupts and one IMSIC
 * page per hart from {@code imsicBase}. The per-hart addresses and the hart-index width are set in
 * {@link #finishSetup()}, once the number of vCPUs is known, then the device is initialized. GSI n drives
 * APLIC source n (KVM's default routing).
 */
public final class AiaIrqChip implements IrqChip, AutoCloseable {
    private static final long IMSIC_PAGE = 0x1000;
    private final IrqChipConfig.Aia config;
    private final KvmVmFd vm;
    private final KvmDeviceFd aia;
    private final IntSupplier vcpuCount;
    private boolean initialized;

    private AiaIrqChip(IrqChipConfig.Aia config, KvmVmFd vm, KvmDeviceFd aia, IntSupplier vcpuCount) {
        this.config = config;
        this.vm = vm;
        this.aia = aia;
        this.vcpuCount = vcpuCount;
    }

    public static AiaIrqChip create(IrqChipConfig.Aia config, KvmVmFd vm, IntSupplier vcpuCount) {
        if (config.sources() < 1 || config.sources() > 1023) {
            throw new IllegalArgumentException("AIA APLIC sources must be 1-1023: " + config.sources());
        }
        if (config.ids() < 63 || config.ids() > 2047 || (config.ids() & 63) != 63) {
            throw new IllegalArgumentException("AIA IMSIC ids must be 63-2047 and one less than a multiple of 64: "
                    + config.ids());
        }
        KvmDeviceFd aia = vm.createDevice(KVM_DEV_TYPE_RISCV_AIA);
        try {
            aia.setAttr32(KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS, config.sources());
            aia.setAttr32(KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_IDS, config.ids());
            aia.setAttr(KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, config.aplicBase());
            return new AiaIrqChip(config, vm, aia, vcpuCount);
        } catch (RuntimeException e) {
            aia.close();
            throw e;
        }
    }

    @Override
    public IrqChipConfig config() {
        return config;
    }

    @Override
    public synchronized void finishSetup() {
        if (initialized) {
            return;
        }
        int harts = vcpuCount.getAsInt();
        int hartBits = harts <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(harts - 1);
        aia.setAttr32(KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS, hartBits);
        for (int hart = 0; hart < harts; hart++) {
            aia.setAttr(KVM_DEV_RISCV_AIA_GRP_ADDR, aiaImsicAddr(hart), config.imsicBase() + hart * IMSIC_PAGE);
        }
        aia.setAttr(KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT);
        initialized = true;
    }

    @Override
    public void setIrqLine(int gsi, boolean high) {
        if (gsi < 1 || gsi > config.sources()) {
            throw new IllegalArgumentException("APLIC sources are 1-" + config.sources() + ", not " + gsi);
        }
        vm.irqLine(gsi, high);
    }

    @Override
    public void signalMsi(MsiMessage message) {
        vm.signalMsi(message);
    }

    /** Refused: the AIA's state (APLIC and IMSIC attributes) is not saved yet. */
    @Override
    public List<dev.nimbus.hypervisor.state.StateRecord> saveState() {
        throw new UnsupportedOperationException("the riscv64 AIA's state cannot be saved yet (its APLIC and IMSIC"
                + " device attributes are not read); a riscv64 VM cannot be snapshotted");
    }

    /** Refused, as {@link #saveState}. */
    @Override
    public void restoreState(List<dev.nimbus.hypervisor.state.StateRecord> records) {
        throw new UnsupportedOperationException("the riscv64 AIA's state cannot be restored yet");
    }

    @Override
    public void close() {
        aia.close();
    }
}
